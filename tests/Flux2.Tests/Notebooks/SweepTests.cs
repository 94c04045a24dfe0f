using System.Diagnostics;
using System.Xml.Linq;
using Flux2.Evaluation;
using Flux2.Interactive.Charts;
using Flux2.Interactive.Training;
using Flux2.IO;
using Flux2.Native;
using Flux2.Tests.Evaluation;
using Flux2.Training.Config;
using Flux2.Training.Network;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Notebooks;

/// <summary>The notebooks' sweep helper: run names, the reuse-on-disk decision, per-variant mean ± std, the band
/// chart and its SVG image, and one tiny sweep on FLUX.2-micro that a second call reuses.</summary>
public sealed class SweepTests(ITestOutputHelper output)
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    static string JobPath => Path.Combine(TestPaths.RepoRoot, "datasets-sample", "midnight_tarot.yaml");

    static SweepRun Run(SweepVariant v, long seed, double strength, double bleed) =>
        new(v, seed, $"/runs/{v.Name}_s{seed}", $"/runs/{v.Name}_s{seed}/x.safetensors", 10, 1.5, 0.3, true,
            new EvaluatedLora($"{v.Name}_s{seed}", "x.safetensors", 10, new Dictionary<string, double>
            {
                ["trigger_strength"] = strength,
                ["bleed"] = bleed,
            }, "eval.json", false));

    /// <summary>Three learning rates (given out of order) × three seeds.</summary>
    static SweepResult Lr()
    {
        SweepVariant high = new("lr=1e-2", 1e-2, _ => { }), low = new("lr=1e-4", 1e-4, _ => { }),
            mid = new("lr=1e-3", 1e-3, _ => { });
        return new([high, low, mid], [1, 2, 3],
        [
            Run(high, 1, 0.1, 0.05), Run(high, 2, 0.2, 0.05), Run(high, 3, double.NaN, 0.05),
            Run(low, 1, 0.0, 0.001), Run(low, 2, 0.1, 0.002), Run(low, 3, 0.2, 0.003),
            Run(mid, 1, 0.4, 0.01), Run(mid, 2, 0.5, 0.01), Run(mid, 3, 0.6, 0.01),
        ], "/data", "tarot");
    }

    [Fact]
    public void Run_names_join_job_variant_and_seed_with_unsafe_characters_replaced()
    {
        Assert.Equal("tarot_lr-1e-3_s2", Sweep.RunName("tarot", "lr=1e-3", 2));
        Assert.Equal("tarot_rank-16_s0", Sweep.RunName("tarot", "rank 16", 0));
        Assert.True(Flux2.Training.RunFolder.IsSafeName(Sweep.RunName("j", "dop ×10 / α", 7)));
    }

    [Fact]
    public void Spread_and_table_give_mean_and_sample_std_per_variant_over_finite_seeds()
    {
        var sweep = Lr();
        var mid = sweep.Spread(sweep.Variants[2], EvalMetrics.TriggerStrength);
        Assert.Equal(0.5, mid.Mean, 12);
        Assert.Equal(0.1, mid.Std, 12); // sample std of 0.4, 0.5, 0.6
        var high = sweep.Spread(sweep.Variants[0], EvalMetrics.TriggerStrength);
        Assert.Equal(2, high.Count);
        Assert.Equal(0.15, high.Mean, 12);

        var (headers, rows) = sweep.Table([EvalMetrics.TriggerStrength, EvalMetrics.Bleed]);
        Assert.Equal(new[] { "variant", "seeds", "trigger strength", "bleed", "final loss", "seconds" }, headers);
        Assert.Equal(3, rows.Count);
        Assert.Equal(new object?[] { "lr=1e-3", 3, "0.5000 ± 0.1000", "0.0100 ± 0.0000", "0.3000 ± 0.0000", "1.5" },
            rows[2]);
    }

    [Fact]
    public void Band_sorts_numeric_variants_and_builds_mean_band_and_seed_traces()
    {
        var chart = Chart.Band(Lr(), EvalMetrics.TriggerStrength, logX: true, xTitle: "learning rate");
        Assert.True(chart.LogX);
        Assert.Contains("mean ± std over 3 training seeds", chart.Title);
        Assert.Contains("mean ± std over 3 training seeds", chart.YTitle);
        var (mean, upper, lower, seeds) = (chart.Traces[0], chart.Traces[1], chart.Traces[2], chart.Traces[3]);
        Assert.Equal([1e-4, 1e-3, 1e-2], mean.X);
        Assert.Equal([0.1, 0.5, 0.15], mean.Y!.Select(y => Math.Round(y, 12)));
        Assert.Equal([0.2, 0.6, 0.15 + Math.Sqrt(0.005)], upper.Y!.Select(y => Math.Round(y, 12)),
            (a, b) => Math.Abs(a - b) < 1e-9);
        Assert.Null(upper.Fill);
        Assert.Equal("tonexty", lower.Fill);
        Assert.Equal([0.0, 0.4, 0.15 - Math.Sqrt(0.005)], lower.Y!, (a, b) => Math.Abs(a - b) < 1e-9);
        Assert.Equal(8, seeds.Y!.Length); // the NaN seed is left out
        Assert.Equal("markers", seeds.Mode);
        // The spec travels as JSON to the plotly helper: no NaN may reach it.
        Assert.DoesNotContain("NaN", chart.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Band_svg_draws_the_band_polygon_on_a_log_x_axis_and_seeds_on_their_categories()
    {
        var doc = XDocument.Parse(ChartSvg.Render(Chart.Band(Lr(), EvalMetrics.TriggerStrength, logX: true)));
        var polygon = Assert.Single(doc.Descendants(Svg + "polygon"));
        Assert.Equal(6, polygon.Attribute("points")!.Value.Split(' ').Length); // 3 upper + 3 lower corners
        Assert.Equal("0.2", polygon.Attribute("fill-opacity")!.Value);
        Assert.Single(doc.Descendants(Svg + "polyline")); // the mean; the band's edges have no line
        Assert.Equal(3 + 8, doc.Descendants(Svg + "circle").Count());
        Assert.Equal(8, doc.Descendants(Svg + "circle").Count(c => (string?)c.Attribute("fill-opacity") == "0.35"));
        var texts = doc.Descendants(Svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("1e-4", texts);
        Assert.Contains("0.01", texts);
        var xs = doc.Descendants(Svg + "circle").Select(c => double.Parse(c.Attribute("cx")!.Value,
            System.Globalization.CultureInfo.InvariantCulture)).Distinct().Order().ToList();
        Assert.Equal(3, xs.Count);
        Assert.Equal(xs[1] - xs[0], xs[2] - xs[1], 1); // log axis: 1e-4, 1e-3, 1e-2 evenly spaced

        var categorical = Lr() with { Variants = Lr().Variants.Select(v => v with { X = null }).ToList() };
        var runs = categorical.Variants.SelectMany(v => Lr().Runs.Where(r => r.Variant.Name == v.Name)
            .Select(r => r with { Variant = v })).ToList();
        var chart = Chart.Band(categorical with { Runs = runs }, EvalMetrics.TriggerStrength);
        Assert.Equal(["lr=1e-2", "lr=1e-4", "lr=1e-3"], chart.Traces[0].Categories);
        var svg = XDocument.Parse(ChartSvg.Render(chart));
        var seedXs = svg.Descendants(Svg + "circle").Select(c => c.Attribute("cx")!.Value).Distinct().Count();
        Assert.Equal(3, seedXs); // seeds sit on their variant's category, not at their index in the trace
    }

    [Fact]
    public void A_final_lora_is_reused_only_when_its_config_is_this_job()
    {
        TorchRuntime.EnsureLoaded();
        var job = JobConfigReader.Read(JobPath);
        var lora = Path.Combine(TestPaths.TempDir(), "final.safetensors");
        Assert.False(Sweep.IsDone(lora, job));
        using (var t = zeros(2))
            SafetensorsWriter.Write(lora, [new KeyValuePair<string, Tensor>("x", t)],
                new Dictionary<string, string> { ["config"] = LoraCheckpoint.ConfigJson(job.Job) });
        Assert.True(Sweep.IsDone(lora, job));
        job.Job.Process.Train.Lr *= 10;
        Assert.False(Sweep.IsDone(lora, job));
    }

    [MicroModelFact]
    public void Tiny_sweep_trains_evaluates_and_reuses_its_runs_on_a_second_call()
    {
        TorchRuntime.EnsureLoaded();
        var folder = TestPaths.TempDir();
        SweepVariant[] variants =
        [
            new("lr=1e-4", 1e-4, p => p.Train.Lr = 1e-4),
            new("lr=1e-3", 1e-3, p => p.Train.Lr = 1e-3),
        ];
        var options = new LoraEvalOptions { Seeds = 1, Steps = 2 };
        var clock = Stopwatch.StartNew();
        var first = Sweep.Run(JobPath, variants, [1, 2], steps: 2, options, folder, log: output.WriteLine);
        output.WriteLine($"first call: {clock.Elapsed.TotalSeconds:F1} s");

        Assert.Equal(4, first.Runs.Count);
        Assert.All(first.Runs, r => Assert.True(r.Trained && !r.Eval.Reused && File.Exists(r.Lora)));
        Assert.Equal(["midnight_tarot_micro_lr-1e-3_s1", "midnight_tarot_micro_lr-1e-3_s2"],
            first.RunsOf(variants[1]).Select(r => Path.GetFileName(r.RunFolder)));
        Assert.All(first.Runs, r => Assert.True(double.IsFinite(r[EvalMetrics.TriggerStrength])));
        Assert.All(first.Runs, r => Assert.Equal(2, r.Steps));
        var samples = Path.Combine(first.Runs[0].RunFolder, "samples");
        Assert.Empty(Directory.Exists(samples) ? Directory.GetFiles(samples) : []); // sampling is off
        Assert.Equal(2, first.Spread(variants[0], EvalMetrics.TriggerStrength).Count);
        var band = Chart.Band(first, EvalMetrics.TriggerStrength, logX: true);
        Assert.Equal(2, band.Traces[2].Y!.Length);

        var written = first.Runs.Select(r => File.GetLastWriteTimeUtc(r.Lora)).ToList();
        clock.Restart();
        var second = Sweep.Run(JobPath, variants, [1, 2], steps: 2, options, folder, log: output.WriteLine);
        output.WriteLine($"second call: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.All(second.Runs, r => Assert.True(!r.Trained && r.Eval.Reused));
        Assert.Equal(written, second.Runs.Select(r => File.GetLastWriteTimeUtc(r.Lora)));
        Assert.Equal(first.Runs.Select(r => r[EvalMetrics.Bleed]), second.Runs.Select(r => r[EvalMetrics.Bleed]));
        Assert.Equal(first.Runs.Select(r => r.FinalLoss), second.Runs.Select(r => r.FinalLoss));
    }
}
