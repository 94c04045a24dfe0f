namespace Flux2.Tests;

/// <summary>Where the repository and the parity fixtures are. Fixtures are read in place from <c>tests/fixtures</c>
/// in the repository, or from <c>FLUX2_FIXTURES</c> when set.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Fixtures =>
        Environment.GetEnvironmentVariable("FLUX2_FIXTURES") is { Length: > 0 } p ? p
        : Path.Combine(RepoRoot, "tests", "fixtures");

    public static string Tiny => Path.Combine(Fixtures, "flux2-tiny");

    /// <summary>The FLUX.2 [klein] fixture: Qwen3 text encoder, no guidance embedder, true-CFG pipeline.</summary>
    public static string Klein => Path.Combine(Fixtures, "flux2-klein-tiny");

    /// <summary>The text encoder's stacked hidden-state layers of a fixture (<c>te_out_layers</c> in its
    /// fixture.json).</summary>
    public static int[] TextEncoderOutLayers(string fixture) =>
        System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(fixture, "fixture.json")))!
            ["te_out_layers"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();

    /// <summary>A fresh temporary folder for one test.</summary>
    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "flux2-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(d);
        return d;
    }

    static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Flux2Notebooks.sln"))) return d.FullName;
        throw new InvalidOperationException("Flux2Notebooks.sln not found above " + AppContext.BaseDirectory);
    }
}
