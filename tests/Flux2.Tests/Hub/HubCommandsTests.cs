using Flux2.IO.Hub;
using Xunit;

namespace Flux2.Tests.Hub;

public class HubCommandsTests
{
    static HfDownloader Downloader(FakeHub hub) => new(new HfCache(TestPaths.TempDir()), hub.Endpoint, null);

    [Fact]
    public void DownloadPrintsOneLinePerFileAndTheSnapshotIntoALog()
    {
        using var hub = HubTestRepos.Start();
        using var downloader = Downloader(hub);
        var output = new StringWriter();

        var code =
            HubCommands.Download(downloader, HubTestRepos.Public, null, Array.Empty<string>(), output, terminal: false);

        Assert.Equal(HubCommands.Ok, code);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("[3/3] transformer/model.safetensors  1.0 MiB  downloaded"));
        Assert.Equal(3, lines.Count(l => l.StartsWith('[')));
        Assert.Contains(lines, l => l.StartsWith("Snapshot: "));
        Assert.DoesNotContain('\r', output.ToString());
    }

    [Fact]
    public void TerminalOutputRedrawsTheLineWithCarriageReturns()
    {
        using var hub = HubTestRepos.Start();
        using var downloader = Downloader(hub);
        var output = new StringWriter();

        HubCommands.Download(downloader, HubTestRepos.Public, null, new[] { "*.md" }, output, terminal: true);

        Assert.StartsWith("\r[1/1] README.md", output.ToString());
    }

    [Fact]
    public void GatedRepoExitsWithTwoAndTheRemedy()
    {
        using var hub = HubTestRepos.Start();
        using var downloader = Downloader(hub);
        var output = new StringWriter();

        var code = HubCommands.Download(downloader, HubTestRepos.Gated, "main", Array.Empty<string>(), output,
            terminal: false);

        Assert.Equal(HubCommands.AccessOrNotFound, code);
        Assert.Contains("https://huggingface.co/settings/tokens", output.ToString());
    }

    [Fact]
    public void MissingRepoExitsWithTwo()
    {
        using var hub = HubTestRepos.Start();
        using var downloader = Downloader(hub);
        var output = new StringWriter();

        Assert.Equal(HubCommands.AccessOrNotFound, HubCommands.Download(downloader, "acme/missing", null,
            Array.Empty<string>(), output, false));
        Assert.Contains("acme/missing was not found", output.ToString());
    }

    [Fact]
    public void NetworkFailureExitsWithOne()
    {
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var endpoint = $"http://127.0.0.1:{((System.Net.IPEndPoint)closed.LocalEndpoint).Port}";
        closed.Stop();
        using var downloader = new HfDownloader(new HfCache(TestPaths.TempDir()), endpoint, null);
        var output = new StringWriter();

        Assert.Equal(HubCommands.Failed, HubCommands.Download(downloader, HubTestRepos.Public, null,
            Array.Empty<string>(), output, false));
        Assert.Contains(endpoint, output.ToString());
    }
}
