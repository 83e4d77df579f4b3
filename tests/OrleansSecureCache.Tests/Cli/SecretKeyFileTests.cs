using OrleansSecureCache.Cli;
using Xunit;

namespace OrleansSecureCache.Tests.Cli;

public sealed class SecretKeyFileTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "osc-secret-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void CreatesAnOwnerOnly64HexCharacterSecret()
    {
        var dir = Path.Combine(_root, "nested", "config");
        var path = SecretKeyFile.GetOrCreate(dir);

        Assert.Equal(Path.Combine(dir, SecretKeyFile.FileName), path);
        var text = File.ReadAllText(path);
        Assert.Matches("^[0-9a-f]{64}\n$", text);
        Assert.NotNull(KeyMaterial.DeriveDefaultEncryptionKey(text.TrimEnd('\n'))); // a valid (>= 32-byte) secret
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        }

        Assert.Equal([path], Directory.GetFiles(dir)); // no temporary file left behind
    }

    [Fact]
    public void AnExistingSecretIsKept()
    {
        var path = SecretKeyFile.GetOrCreate(_root);
        var first = File.ReadAllText(path);
        Assert.Equal(path, SecretKeyFile.GetOrCreate(_root));
        Assert.Equal(first, File.ReadAllText(path));
    }

    [Fact]
    public void TwoSecretsAreDifferent()
    {
        var a = File.ReadAllText(SecretKeyFile.GetOrCreate(Path.Combine(_root, "a")));
        var b = File.ReadAllText(SecretKeyFile.GetOrCreate(Path.Combine(_root, "b")));
        Assert.NotEqual(a, b);
    }

    [Fact]
    public async Task ConcurrentFirstRunsAgreeOnOneSecret()
    {
        for (var round = 0; round < 50; round++)
        {
            var dir = Path.Combine(_root, $"round{round}");
            using var go = new ManualResetEventSlim();
            var tasks = Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
            {
                go.Wait();
                var path = SecretKeyFile.GetOrCreate(dir);
                return File.ReadAllText(path);
            })).ToArray();
            go.Set();
            var secrets = await Task.WhenAll(tasks);

            Assert.Single(secrets.Distinct());
            Assert.Matches("^[0-9a-f]{64}\n$", secrets[0]);
            Assert.Equal(secrets[0], File.ReadAllText(Path.Combine(dir, SecretKeyFile.FileName)));
            Assert.Single(Directory.GetFiles(dir));
        }
    }

    [Fact]
    public async Task ConcurrentCliRunsAgreeOnOneKey()
    {
        using var cli = new CliRunner();
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => cli.RunAsync("key", "--encrypt", "--key", "k"))));
        Assert.All(results, r => Assert.Equal(0, r.ExitCode));
        Assert.Single(results.Select(r => r.StdoutText).Distinct());
        Assert.DoesNotContain(File.ReadAllText(cli.SecretPath).TrimEnd('\n'), string.Concat(results.Select(r => r.StdoutText + r.Stderr)));
    }

    [Fact]
    public void DefaultDirectoryHonoursOverrides()
    {
        Assert.Equal(Path.GetFullPath("/tmp/x"), SecretKeyFile.DefaultDirectory(n => n == "OSC_CONFIG_DIR" ? "/tmp/x" : null));
        Assert.Equal(
            Path.Combine("/tmp/xdg", SecretKeyFile.FolderName),
            SecretKeyFile.DefaultDirectory(n => n == "XDG_CONFIG_HOME" ? "/tmp/xdg" : null));
        Assert.EndsWith(SecretKeyFile.FolderName, SecretKeyFile.DefaultDirectory(_ => null));
    }
}
