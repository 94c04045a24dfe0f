using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Notebooks;

/// <summary>
/// Runs every notebook in the real .NET Interactive kernel with dotnet-repl (a local dotnet tool,
/// .config/dotnet-tools.json), the way a reader's Jupyter would: working folder notebooks/, the library #r'd from
/// src/Flux2.Interactive/bin/Release (this test project builds it through its ProjectReference). dotnet-repl exits 2
/// when any cell fails. The executed copies go to a temporary folder; the committed notebooks stay without outputs.
/// </summary>
[Collection(nameof(NotebookCollection))]
public sealed class NotebookExecutionTests(ITestOutputHelper output)
{
    static readonly TimeSpan PerNotebook = TimeSpan.FromMinutes(10);

    [Theory]
    [InlineData("01-setup.ipynb")]
    [InlineData("02-dataset-and-captions.ipynb")]
    [InlineData("03-understanding-flux2.ipynb")]
    [InlineData("04-rank-dop-hardware.ipynb")]
    [InlineData("05-training.ipynb")]
    [InlineData("06-debugging-and-quality.ipynb")]
    [InlineData("07-comparing-runs.ipynb")]
    [InlineData("08-inference-and-export.ipynb")]
    [InlineData("09-guide-experiments.ipynb")]
    [InlineData("10-more-experiments.ipynb")]
    public void Notebook_runs_in_the_kernel_with_offline_charts_and_png_outputs(string notebook)
    {
        var executed = Run(notebook);
        var outputs = Outputs(executed).ToList();

        Assert.DoesNotContain(outputs, o => o.type == "error");
        var html = outputs.SelectMany(o => o.data).Where(d => d.mime == "text/html").Select(d => d.text).ToList();
        // plotly.js is not inlined: every chart loads it from the file the Jupyter server serves.
        Assert.DoesNotContain(html, h => h.Contains("plotly.js v", StringComparison.Ordinal));
        Assert.Contains(html, h => h.Contains("Plotly.newPlot", StringComparison.Ordinal));
        Assert.All(html.Where(h => h.Contains("Plotly.newPlot", StringComparison.Ordinal)),
            h => Assert.Matches(@"'nbextensions/flux2/plotly-\d+\.\d+\.\d+\.min'", h));
        foreach (var h in html)
            Assert.DoesNotMatch(new Regex(@"<script[^>]*\bsrc\s*=\s*[""']?(https?:)?//", RegexOptions.IgnoreCase), h);
        Assert.Contains(outputs.SelectMany(o => o.data), d => d.mime == "image/png" && d.text.Length > 1000);
        Assert.DoesNotContain(ReadCommitted(notebook), c => c);
    }

    /// <summary>Committed notebooks carry no outputs (the kernel writes them; CI checks them).</summary>
    static IEnumerable<bool> ReadCommitted(string notebook)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "notebooks", notebook)));
        foreach (var cell in doc.RootElement.GetProperty("cells").EnumerateArray())
            yield return cell.TryGetProperty("outputs", out var o) && o.GetArrayLength() > 0;
    }

    string Run(string notebook)
    {
        NotebookCollection.EnsureReady(output);
        var temp = TestPaths.TempDir();
        var executed = Path.Combine(temp, Path.ChangeExtension(notebook, ".executed.ipynb"));
        var clock = Stopwatch.StartNew();
        var (code, log) = NotebookCollection.Dotnet(Path.Combine(TestPaths.RepoRoot, "notebooks"), PerNotebook,
            new Dictionary<string, string>
            {
                ["FLUX2_NOTEBOOK_OUTPUT"] = Path.Combine(temp, "runs"),
                // Other test classes run beside this one on the same cores: libtorch's OpenMP threads, spin-waiting by
                // default, then ran ~10-25x slower here (256² matmul x200: 2.9 s vs 0.11 s passive). Passive waiting
                // only.
                ["OMP_WAIT_POLICY"] = "PASSIVE",
            },
            "tool", "run", "dotnet-repl", "--", "--run", notebook, "--exit-after-run", "--output-path", executed);
        output.WriteLine($"{notebook}: exit {code} in {clock.Elapsed.TotalSeconds:F0} s; executed copy {executed}");
        if (code != 0 && File.Exists(executed))
            foreach (var (type, _, text) in Outputs(executed).Where(o => o.type == "error"))
                output.WriteLine($"cell error: {text}");
        Assert.True(code == 0,
            $"dotnet-repl exited {code} for {notebook} (2 = a cell failed; " +
            $"see the test output). Log tail:\n{Tail(log)}");
        Assert.True(File.Exists(executed), $"dotnet-repl wrote no {executed}");
        return executed;
    }

    static IEnumerable<(string type, List<(string mime, string text)> data, string error)>
        Outputs(string executedNotebook)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(executedNotebook));
        var list = new List<(string, List<(string, string)>, string)>();
        foreach (var cell in doc.RootElement.GetProperty("cells").EnumerateArray())
        {
            if (!cell.TryGetProperty("outputs", out var outputs)) continue;
            foreach (var o in outputs.EnumerateArray())
            {
                var type = o.GetProperty("output_type").GetString()!;
                var data = new List<(string, string)>();
                if (o.TryGetProperty("data", out var d))
                    foreach (var p in d.EnumerateObject()) data.Add((p.Name, Text(p.Value)));
                var error = type == "error"
                    ? $"{o.GetProperty("ename").GetString()}: {o.GetProperty("evalue").GetString()}" : "";
                list.Add((type, data, error));
            }
        }
        return list;
    }

    static string Text(JsonElement e) => e.ValueKind == JsonValueKind.Array
        ? string.Concat(e.EnumerateArray().Select(x => x.GetString())) : e.ToString();
    static string Tail(string s) => s.Length <= 3000 ? s : s[^3000..];
}

/// <summary>The notebooks run one at a time (each is a kernel process training or sampling on the CPU), after the
/// dotnet-repl tool is restored and the Release build of Flux2.Interactive exists.</summary>
[CollectionDefinition(nameof(NotebookCollection), DisableParallelization = true)]
public sealed class NotebookCollection
{
    static readonly object Gate = new();
    static bool ready;

    public static string LibraryPath => Path.Combine(TestPaths.RepoRoot, "src", "Flux2.Interactive", "bin", "Release",
        "net10.0", "linux-x64", "Flux2.Interactive.dll");

    public static void EnsureReady(ITestOutputHelper output)
    {
        lock (Gate)
        {
            if (ready) return;
            var (code, log) = Dotnet(TestPaths.RepoRoot, TimeSpan.FromMinutes(3), null, "tool", "restore");
            Assert.True(code == 0, $"dotnet tool restore failed:\n{log}");
            // The notebooks #r the Release build. A Release test run has just built it (ProjectReference); otherwise
            // build it.
            string releaseFolder = $"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}";
            if (!AppContext.BaseDirectory.Contains(releaseFolder) || !File.Exists(LibraryPath))
            {
                output.WriteLine("building src/Flux2.Interactive in Release for the notebooks");
                (code, log) = Dotnet(TestPaths.RepoRoot, TimeSpan.FromMinutes(8), null, "build",
                    "src/Flux2.Interactive/Flux2.Interactive.csproj", "-c", "Release", "--nologo", "-v", "quiet");
                Assert.True(code == 0, $"building Flux2.Interactive failed:\n{log}");
            }
            Assert.True(File.Exists(LibraryPath), $"{LibraryPath} missing");
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(LibraryPath)!, "plotly",
                "Flux2.Interactive.Plotly.dll")), "the private Plotly helper folder is missing");
            ready = true;
        }
    }

    public static (int code, string log) Dotnet(string workingDirectory, TimeSpan timeout,
                                                IDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeout.TotalMinutes:F0} min\n{stdout.Result}{stderr.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
