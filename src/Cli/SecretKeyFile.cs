using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace OrleansSecureCache.Cli;

/// <summary>
/// The per-user secret used when configuration names none: <c>secret.key</c> in the user's configuration folder,
/// 32 random bytes written as 64 hex characters, readable by its owner only. Created on first use, atomically:
/// two first runs at once end up with the same file.
/// </summary>
internal static partial class SecretKeyFile
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
        if (File.Exists(path))
        {
            return path;
        }

        CreateDirectory(directory);

        // Write the whole secret to a private temporary file, then publish it under its final name in one step
        // that fails if the name exists: the first to publish wins and everyone else uses the winner's file,
        // and nobody ever sees a half-written one.
        var temp = Path.Combine(directory, $".{FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            WriteNewSecret(temp);
            if (!Publish(temp, path) && !File.Exists(path))
            {
                throw new IOException($"The secret key file '{path}' could not be created.");
            }
        }
        finally
        {
            File.Delete(temp);
        }

        return path;
    }

    /// <summary>
    /// Gives <paramref name="temp"/> the name <paramref name="path"/> unless that name exists, atomically; false when it
    /// existed. On Unix this is link(2), which fails with EEXIST: .NET's non-overwriting move may fall back to a
    /// check followed by a rename, and two concurrent first runs were once seen to keep different secrets.
    /// </summary>
    private static bool Publish(string temp, string path)
    {
        if (OperatingSystem.IsWindows())
        {
            try
            {
                File.Move(temp, path, overwrite: false); // MoveFileEx without REPLACE_EXISTING is atomic
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                return false;
            }
        }

        if (NativeMethods.link(temp, path) == 0)
        {
            return true;
        }

        const int EEXIST = 17;
        var error = Marshal.GetLastPInvokeError();
        return error == EEXIST ? false : throw new IOException($"Creating '{path}' failed (errno {error}).");
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        [return: MarshalAs(UnmanagedType.I4)]
        internal static partial int link(string oldpath, string newpath);
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

    private static void WriteNewSecret(string temp)
    {
        var options = new FileStreamOptions
        {
            Mode = System.IO.FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
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
            using var stream = new FileStream(temp, options);
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
            File.SetUnixFileMode(temp, FileMode);
        }
    }
}
