using System.Text;
using System.Text.Json;
using Flux2.Pipeline;

namespace Flux2.Evaluation;

/// <summary>One evaluated LoRA as the comparison tables show it: a label (run folder, file or step), its metrics by
/// eval.json key (<see cref="EvalMetrics"/>), where they were written, and whether an earlier eval.json was
/// reused.</summary>
public sealed record EvaluatedLora(string Label, string Lora, int? Step, IReadOnlyDictionary<string, double> Metrics,
    string JsonPath, bool Reused)
{
    public double this[EvalMetric metric] => Metrics.TryGetValue(metric.JsonKey, out var v) ? v : double.NaN;
}

/// <summary>
/// Evaluations of several LoRAs with one loaded model: the final LoRAs of runs that differ only by training seed
/// (<see cref="SpreadTable"/>: each metric's mean ± sample std), or the step checkpoints of one run
/// (<see cref="CheckpointSweep"/>). Each LoRA's eval.json / eval.md go to its own folder; an eval.json already there
/// is reused when <see cref="Matches"/> says it measured the same thing.
/// </summary>
public static class LoraEvalRuns
{
    /// <summary>Reads <paramref name="folder"/>/eval.json when it <see cref="Matches"/>; else evaluates
    /// <paramref name="lora"/> (<see cref="LoraEvaluator"/>) and writes eval.json and eval.md there.</summary>
    public static EvaluatedLora EvaluateOrReuse(Flux2Models models, string lora, string dataset, string trigger,
        LoraEvalOptions options, string folder, string label, int? step = null, Action<string>? log = null,
        BaseImageCache? baseImages = null)
    {
        var json = Path.Combine(folder, LoraEvalReport.JsonFileName);
        if (Matches(json, lora, models.Origin, dataset, trigger, options))
        {
            log?.Invoke($"{label}: reusing {json} (same LoRA file, model, dataset, trigger and options)");
            return new(label, lora, step, EvalMetrics.FromJson(File.ReadAllText(json)), json, Reused: true);
        }
        var result = EvaluateAndWrite(models, lora, dataset, trigger, options, folder, log, baseImages);
        return new(label, lora, step, EvalMetrics.Of(result), json, Reused: false);
    }

    /// <summary>Evaluates <paramref name="lora"/> (<see cref="LoraEvaluator"/>) and writes eval.json, eval.md and the
    /// comparison grid eval.png (<see cref="EvalGrid"/>) into <paramref name="folder"/>.</summary>
    public static LoraEvalResult EvaluateAndWrite(Flux2Models models, string lora, string dataset, string trigger,
        LoraEvalOptions options, string folder, Action<string>? log = null, BaseImageCache? baseImages = null)
    {
        EvalGridImages? grid = null;
        var result = LoraEvaluator.Evaluate(models, lora, dataset, trigger, options, log,
            images => grid = EvalGrid.Capture(images, (int)images.BaseTrigger.shape[0] / options.Seeds), baseImages);
        LoraEvalReport.Write(result, folder);
        if (grid is not null)
        {
            var references = EvalPrompts.DatasetImages(dataset).Take(grid.Base.Count)
                .Select(f => DatasetLook.Resized(f, options.Width, options.Height)).ToList();
            EvalGrid.Write(Path.Combine(folder, EvalGrid.FileName), grid, references,
                result.Prompts.Select(p => p.WithoutTrigger).ToList());
        }
        return result;
    }

    /// <summary>True when <paramref name="evalJson"/> exists, is not older than <paramref name="lora"/>, and was
    /// written for the same LoRA path, model folder, dataset folder, trigger and sampling options (and class word,
    /// when <paramref name="options"/> names one).</summary>
    public static bool Matches(string evalJson, string lora, string model, string dataset, string trigger,
        LoraEvalOptions options)
    {
        if (!File.Exists(evalJson) || !File.Exists(lora)
            || File.GetLastWriteTimeUtc(evalJson) < File.GetLastWriteTimeUtc(lora)) return false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(evalJson));
            var r = doc.RootElement;
            string? S(JsonElement e, string key) =>
                e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            double N(JsonElement e, string key) =>
                e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;
            if (!r.TryGetProperty("options", out var o)) return false;
            return SamePath(S(r, "lora"), lora) && SamePath(S(r, "model"), model) && SamePath(S(r, "dataset"), dataset)
                && S(r, "trigger") == trigger
                && (options.ClassWord is null || S(r, "class_word") == options.ClassWord)
                && N(o, "width") == options.Width && N(o, "height") == options.Height
                && N(o, "steps") == options.Steps && (float)N(o, "guidance") == options.Guidance
                && N(o, "seeds") == options.Seeds && N(o, "first_seed") == options.FirstSeed
                && N(o, "lora_strength") == options.LoraStrength
                && EvalMetrics.All.Any(m => r.TryGetProperty(m.JsonKey, out _));
        }
        catch (JsonException) { return false; }
    }

    static bool SamePath(string? a, string b) => a is not null &&
        Path.TrimEndingDirectorySeparator(Path.GetFullPath(a))
            == Path.TrimEndingDirectorySeparator(Path.GetFullPath(b));

    /// <summary>Mean ± sample std of each metric over <paramref name="runs"/>.</summary>
    public static IReadOnlyDictionary<string, MeanStd> Spread(IReadOnlyList<EvaluatedLora> runs,
        IReadOnlyList<EvalMetric>? metrics = null) =>
        (metrics ?? EvalMetrics.All).ToDictionary(m => m.JsonKey, m => MeanStd.Of(runs.Select(r => r[m])));

    /// <summary>A markdown table: a row per run, then mean ± std (sample std, n − 1) of each metric.</summary>
    public static string SpreadTable(IReadOnlyList<EvaluatedLora> runs, IReadOnlyList<EvalMetric>? metrics = null)
    {
        metrics ??= EvalMetrics.All;
        var spread = Spread(runs, metrics);
        var s = new StringBuilder();
        s.AppendLine("| run | " + string.Join(" | ", metrics.Select(m => m.Label)) + " |");
        s.AppendLine("|---|" + string.Concat(metrics.Select(_ => "---|")));
        foreach (var r in runs)
            s.AppendLine($"| {r.Label} | " + string.Join(" | ", metrics.Select(m => EvalMetrics.Format(r[m]))) + " |");
        s.AppendLine($"| **mean ± std (n = {runs.Count})** | " +
            string.Join(" | ", metrics.Select(m => spread[m.JsonKey].ToString())) + " |");
        return s.ToString();
    }
}
