using System.Security.Cryptography;
using System.Text;

namespace OrleansSecureCache.Cli;

/// <summary>
/// The per-user secret used when configuration names none: <c>secret.key</c> in the user's configuration folder,
/// 32 random bytes written as 64 hex characters, readable by its owner only. Created on first use, atomically:
/// two first runs at once end up with the same file.
/// </summary>
internal static class SecretKeyFile
{
    public const string FileName = "secret.key";
    public const string FolderName = "orleans-secure-cache";

    /// <summary>Overrides the folder (tests, or a shared location).</summary>
    public const string ConfigDirVariable = "OSC_CONFIG_DIR";

    private const int SecretBytes = 32;

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// <c>$OSC_CONFIG_DIR</c> if set; else <c>$XDG_CONFIG_HOME/orleans-secure-cache</c>; else the user's
    /// application data folder plus <c>orleans-secure-cache</c>.
    /// </summary>
    public static string DefaultDirectory(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        var overridden = getVariable(ConfigDirVariable);
        if (!string.IsNullOrEmpty(overridden))
        {
            return Path.GetFullPath(overridden);
        }

        var xdg = getVariable("XDG_CONFIG_HOME");
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(root))
        {
            throw new InvalidOperationException(
                $"No user configuration folder is known (set {ConfigDirVariable}, or configure SecureCache:SecretKey or SecureCache:SecretKeyFile).");
        }

        return Path.Combine(root, FolderName);
    }

    /// <summary>Returns the path of the secret file in <paramref name="directory"/>, creating the file if it does not exist.</summary>
    public static string GetOrCreate(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            CreateDirectory(directory);
            try
            {
                // Created with O_CREAT|O_EXCL: exactly one first run creates the file, whatever races it.
                // (A rename "without overwrite" is a check then a rename on Linux, and two runs both won.)
                WriteNewSecret(path);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first; its secret is the one.
            }
        }

        WaitUntilComplete(path);
        return path;
    }

    /// <summary>
    /// The creator may still be writing the file. Its size is the only signal another process has, so poll it
    /// briefly; a file that stays short was left by a crashed first run and must be deleted by hand.
    /// </summary>
    private static void WaitUntilComplete(string path)
    {
        var complete = SecretBytes * 2 + 1;
        for (var attempt = 0; attempt < 500; attempt++)
        {
            if (new FileInfo(path).Length >= complete)
            {
                return;
            }

            Thread.Sleep(10); // no cross-process event exists for "another process finished writing"
        }

        throw new InvalidOperationException($"The secret key file '{path}' is incomplete; delete it and run again to create a new one.");
    }

    private static void CreateDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        var existed = Directory.Exists(directory);
        Directory.CreateDirectory(directory, DirectoryMode);
        if (!existed)
        {
            // The mode given above is filtered by the umask; make it exactly owner-only.
            File.SetUnixFileMode(directory, DirectoryMode);
        }
    }

    private static void WriteNewSecret(string path)
    {
        var options = new FileStreamOptions
        {
            Mode = System.IO.FileMode.CreateNew,
            Access = FileAccess.Write,
            // Readers wait for the full length (one write of the whole line), so they may open it at any time.
            Share = FileShare.Read,
            Options = FileOptions.WriteThrough,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }

        var secret = RandomNumberGenerator.GetBytes(SecretBytes);
        var text = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(secret) + "\n");
        try
        {
            using var stream = new FileStream(path, options);
            stream.Write(text);
            stream.Flush(flushToDisk: true);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
            CryptographicOperations.ZeroMemory(text);
        }

        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode is filtered by the umask too; state the mode exactly.
            File.SetUnixFileMode(path, FileMode);
        }
    }
}
