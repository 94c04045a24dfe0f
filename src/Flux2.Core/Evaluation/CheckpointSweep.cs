using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Flux2.IO;
using Flux2.Pipeline;

namespace Flux2.Evaluation;

/// <summary>The checkpoint a sweep suggests, and why.</summary>
public sealed record CheckpointSuggestion(EvaluatedLora Checkpoint, string Reason);

/// <summary>
/// Overfitting over a run's saved checkpoints: every step LoRA (<c>&lt;name&gt;_&lt;step:09d&gt;.safetensors</c>) and
/// the final one, evaluated in step order, with a suggested checkpoint by this rule: among the checkpoints whose
/// bleed ratio (bleed / trigger change) is at most <see cref="MaxBleedRatio"/>, the earliest whose trigger strength
/// is within <see cref="StrengthTolerance"/> of the best strength among them: of checkpoints that give about the
/// same strength, the one trained least. When no checkpoint keeps its bleed ratio that low, the rule runs over all of
/// them and the reason says so.
/// </summary>
public static class CheckpointSweep
{
    public const double StrengthTolerance = 0.05;
    public const double MaxBleedRatio = 0.5;
    /// <summary>Under the run folder: one folder per step LoRA (named like its file, without extension) with its
    /// eval.json, eval.md and eval.png. The final LoRA's evaluation stays in the run folder, where the trainer writes
    /// it.</summary>
    public const string FolderName = "eval-checkpoints";

    /// <summary>Evaluates (or reuses, <see cref="LoraEvalRuns.Matches"/>) every checkpoint of
    /// <paramref name="runFolder"/> in step order with one loaded model.</summary>
    public static IReadOnlyList<EvaluatedLora> Evaluate(Flux2Models models, string runFolder, string dataset,
        string trigger, LoraEvalOptions options, Action<string>? log = null)
    {
        var list = new List<EvaluatedLora>();
        var checkpoints = Checkpoints(runFolder);
        foreach (var (lora, step) in checkpoints)
        {
            bool final = Path.GetFileName(lora) == Path.GetFileName(Path.TrimEndingDirectorySeparator(
                Path.GetFullPath(runFolder))) + ".safetensors";
            var folder = final ? runFolder
                : Path.Combine(runFolder, FolderName, Path.GetFileNameWithoutExtension(lora));
            log?.Invoke($"checkpoint {list.Count + 1}/{checkpoints.Count}: step {step} ({Path.GetFileName(lora)})");
            list.Add(LoraEvalRuns.EvaluateOrReuse(models, lora, dataset, trigger, options, folder, $"step {step}",
                step, log));
        }
        return list;
    }

    /// <summary>The LoRA files of the run in <paramref name="runFolder"/> with their steps, in step order: step
    /// saves by the number in their name, the final <c>&lt;folder name&gt;.safetensors</c> by its
    /// <c>ss_steps</c> metadata (after the step saves when it has none).</summary>
    public static IReadOnlyList<(string Lora, int Step)> Checkpoints(string runFolder)
    {
        if (!Directory.Exists(runFolder)) throw new DirectoryNotFoundException($"run folder not found: {runFolder}");
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runFolder)));
        var pattern = new Regex("^" + Regex.Escape(name) + @"_(\d{9})\.safetensors\z");
        var list = Directory.EnumerateFiles(runFolder)
            .Select(f => (f, m: pattern.Match(Path.GetFileName(f)))).Where(x => x.m.Success)
            .Select(x => (Lora: x.f, Step: int.Parse(x.m.Groups[1].Value, CultureInfo.InvariantCulture))).ToList();
        var final = Path.Combine(runFolder, name + ".safetensors");
        if (File.Exists(final))
        {
            int step = FinalStep(final) ?? (list.Count == 0 ? 0 : list.Max(c => c.Step) + 1);
            if (!list.Any(c => c.Step == step)) list.Add((final, step));
        }
        if (list.Count == 0)
            throw new FileNotFoundException($"{runFolder}: no step LoRA files ({name}_<step>.safetensors) or final " +
                $"{name}.safetensors in this run folder");
        return list.OrderBy(c => c.Step).ToList();
    }

    static int? FinalStep(string lora)
    {
        using var file = SafetensorsFile.Open(lora);
        return file.Metadata.TryGetValue("ss_steps", out var s)
            && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    /// <summary>The suggested checkpoint of <paramref name="byStep"/> (in step order) by the rule above; null for an
    /// empty list.</summary>
    public static CheckpointSuggestion? Suggest(IReadOnlyList<EvaluatedLora> byStep)
    {
        var scored = byStep.Where(c => double.IsFinite(c[EvalMetrics.TriggerStrength])).ToList();
        if (scored.Count == 0) return null;
        var clean = scored.Where(c => c[EvalMetrics.BleedRatio] <= MaxBleedRatio).ToList();
        var pool = clean.Count > 0 ? clean : scored;
        double best = pool.Max(c => c[EvalMetrics.TriggerStrength]);
        var pick = pool.First(c => c[EvalMetrics.TriggerStrength] >= best - StrengthTolerance);
        string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
        return new(pick, $"earliest step with trigger strength within {F(StrengthTolerance)} of the best " +
            $"({F(best)}) " + (clean.Count > 0 ? $"among checkpoints with bleed ratio <= {F(MaxBleedRatio)}"
                : $"(no checkpoint keeps its bleed ratio <= {F(MaxBleedRatio)}: each changes prompts without the " +
                  "trigger by more than half as much as prompts with it)"));
    }

    /// <summary>A markdown table: step, metrics; the suggested row marked.</summary>
    public static string Table(IReadOnlyList<EvaluatedLora> byStep, CheckpointSuggestion? suggestion,
        IReadOnlyList<EvalMetric>? metrics = null)
    {
        metrics ??= EvalMetrics.All;
        var s = new StringBuilder();
        s.AppendLine("| step | " + string.Join(" | ", metrics.Select(m => m.Label)) + " | file |");
        s.AppendLine("|---|" + string.Concat(metrics.Select(_ => "---|")) + "---|");
        foreach (var c in byStep)
            s.AppendLine($"| {c.Step}{(ReferenceEquals(c, suggestion?.Checkpoint) ? " ←" : "")} | " +
                string.Join(" | ", metrics.Select(m => EvalMetrics.Format(c[m]))) + $" | {Path.GetFileName(c.Lora)} |");
        if (suggestion is not null)
            s.AppendLine().AppendLine($"suggested: step {suggestion.Checkpoint.Step} " +
                $"({Path.GetFileName(suggestion.Checkpoint.Lora)}): {suggestion.Reason}");
        return s.ToString();
    }
}
