using System.Globalization;
using System.Text.Json;

namespace Flux2.Evaluation;

/// <summary>A scalar that evaluations are compared by: its label in tables and its key in eval.json
/// (<see cref="LoraEvalReport.Json"/>).</summary>
public sealed record EvalMetric(string Label, string JsonKey);

/// <summary>The scalar metrics of an evaluation, read by their eval.json keys, so an evaluation written earlier and
/// one just made are handled alike. A metric added to <see cref="LoraEvalReport.Json"/> is one line in
/// <see cref="All"/>.</summary>
public static class EvalMetrics
{
    public static readonly EvalMetric TriggerStrength = new("trigger strength", "trigger_strength");
    public static readonly EvalMetric Bleed = new("bleed", "bleed");
    public static readonly EvalMetric BleedRatio = new("bleed ratio", "bleed_ratio");
    public static readonly EvalMetric TriggerChange = new("trigger change", "trigger_change");
    public static readonly EvalMetric ContentKept = new("content kept", "content_kept");
    public static readonly EvalMetric HeldOutStrength = new("held-out strength", "held_out_strength");

    public static readonly IReadOnlyList<EvalMetric> All =
    [
        TriggerStrength,
        ContentKept,
        HeldOutStrength,
        Bleed,
        BleedRatio,
        TriggerChange,
        new("bleed look distance", "bleed_look_distance"),
        new("base distance", "base_distance"),
        new("LoRA distance", "lora_distance"),
    ];

    /// <summary>The values of <see cref="All"/> in an eval.json text, by JSON key; a metric the file lacks (written
    /// before the metric existed) is NaN.</summary>
    public static IReadOnlyDictionary<string, double> FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return All.ToDictionary(m => m.JsonKey, m =>
            doc.RootElement.TryGetProperty(m.JsonKey, out var v) && v.ValueKind == JsonValueKind.Number
                ? v.GetDouble() : double.NaN);
    }

    public static IReadOnlyDictionary<string, double> Of(LoraEvalResult r) => FromJson(LoraEvalReport.Json(r));

    public static string Format(double v) =>
        double.IsNaN(v) ? "-" : v.ToString("F4", CultureInfo.InvariantCulture);
}

/// <summary>Mean and sample standard deviation (n − 1 in the denominator) of the finite values given; Std is NaN for
/// fewer than two values.</summary>
public sealed record MeanStd(double Mean, double Std, int Count)
{
    public static MeanStd Of(IEnumerable<double> values)
    {
        var xs = values.Where(double.IsFinite).ToList();
        if (xs.Count == 0) return new(double.NaN, double.NaN, 0);
        double mean = xs.Average();
        double std = xs.Count < 2 ? double.NaN
            : Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1));
        return new(mean, std, xs.Count);
    }

    /// <summary>"0.3019 ± 0.0123", or the mean alone for one value.</summary>
    public override string ToString() =>
        Count < 2 ? EvalMetrics.Format(Mean) : $"{EvalMetrics.Format(Mean)} ± {EvalMetrics.Format(Std)}";
}
