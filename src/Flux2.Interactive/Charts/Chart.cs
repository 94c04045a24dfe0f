using Flux2.Evaluation;
using Flux2.Interactive.Training;

namespace Flux2.Interactive.Charts;

/// <summary>
/// The notebooks' charts as <see cref="ChartSpec"/> data: training loss with its smoothed curve, learning rate,
/// timestep histogram, trigger strength / bleed curves, run overlays and sweep bands. Show one with
/// <see cref="Display.Show.Chart"/>.
/// </summary>
public static class Chart
{
    /// <summary>Per-step loss (faint) and its exponential moving average with bias correction (bold): one step's loss
    /// depends mostly on the t it drew, so only the smoothed curve shows the trend.</summary>
    public static ChartSpec Loss(IReadOnlyList<double> steps, IReadOnlyList<double> loss, double smoothing = 0.9,
        string title = "Training loss")
        => new()
        {
            Title = title,
            XTitle = "step",
            YTitle = "loss",
            Traces =
            {
                new TraceSpec { Name = "loss", X = steps.ToArray(), Y = loss.ToArray(), Mode = "lines", Opacity = 0.35,
                    LineWidth = 1 },
                new TraceSpec { Name = $"smoothed (EMA {smoothing:0.##})", X = steps.ToArray(),
                    Y = Smooth(loss, smoothing), Mode = "lines", LineWidth = 2.5 },
            },
        };

    /// <summary>The learning-rate schedule as the trainer applied it.</summary>
    public static ChartSpec LearningRate(IReadOnlyList<double> steps, IReadOnlyList<double> lr,
        string title = "Learning rate")
        => new()
        {
            Title = title,
            XTitle = "step",
            YTitle = "lr",
            YFromZero = true,
            Height = 300,
            Traces = { new TraceSpec { Name = "lr", X = steps.ToArray(), Y = lr.ToArray(), Mode = "lines" } },
        };

    /// <summary>Histogram of the drawn timesteps t (0 = clean image, 1 = pure noise): what timestep_type
    /// does.</summary>
    public static ChartSpec TimestepHistogram(IReadOnlyList<double> timesteps, int bins = 20,
        string title = "Timesteps drawn")
        => new()
        {
            Title = title,
            XTitle = "t (0 = image, 1 = noise)",
            YTitle = "count",
            Height = 300,
            Traces = { new TraceSpec { Type = "histogram", Name = "t", X = timesteps.ToArray(), Bins = bins } },
        };

    /// <summary>Several timestep distributions overlaid (e.g. one per timestep_type).</summary>
    public static ChartSpec TimestepHistograms(IReadOnlyDictionary<string, double[]> byName, int bins = 20,
        string title = "Timesteps drawn")
        => new()
        {
            Title = title,
            XTitle = "t (0 = image, 1 = noise)",
            YTitle = "count",
            BarMode = "overlay",
            Height = 320,
            Traces = byName.Select(kv => new TraceSpec
            {
                Type = "histogram",
                Name = kv.Key,
                X = kv.Value,
                Bins = bins,
                Opacity = 0.55
            }).ToList(),
        };

    /// <summary>Trigger strength (how much of the dataset's look the trigger brings) and bleed (how much prompts
    /// without the trigger change) over training steps: the two numbers a LoRA run is judged by.</summary>
    public static ChartSpec TriggerAndBleed(IReadOnlyList<double> steps, IReadOnlyList<double> triggerStrength,
        IReadOnlyList<double> bleed, string title = "Trigger strength and bleed")
        => new()
        {
            Title = title,
            XTitle = "step",
            YTitle = "trigger strength",
            Y2Title = "bleed",
            Traces =
            {
                new TraceSpec { Name = "trigger strength (higher = learnt)", X = steps.ToArray(),
                    Y = triggerStrength.ToArray(), Mode = "lines+markers" },
                new TraceSpec { Name = "bleed (lower = base kept)", X = steps.ToArray(), Y = bleed.ToArray(),
                    Mode = "lines+markers", YAxis = 2, Dash = "dash" },
            },
        };

    /// <summary>Several runs' curves on one chart (e.g. smoothed loss of rank 4 vs 16), optionally smoothed.</summary>
    public static ChartSpec Overlay(IEnumerable<Series> runs, string yTitle = "loss", double smoothing = 0,
        string title = "Runs compared", string xTitle = "step")
        => new()
        {
            Title = title,
            XTitle = xTitle,
            YTitle = yTitle,
            Traces = runs.Select(r => new TraceSpec
            {
                Name = r.Name,
                X = r.X.ToArray(),
                Y = smoothing > 0 ? Smooth(r.Y, smoothing) : r.Y.ToArray(),
                Mode = "lines",
            }).ToList(),
        };

    /// <summary>Any line chart.</summary>
    public static ChartSpec Lines(string title, string xTitle, string yTitle, params Series[] series)
        => Overlay(series, yTitle, 0, title, xTitle);

    /// <summary>A bar chart of named values (e.g. trainable parameters per component).</summary>
    public static ChartSpec Bars(string title, string yTitle, IReadOnlyList<string> names,
        IReadOnlyList<double> values, bool logY = false)
        => new()
        {
            Title = title,
            YTitle = yTitle,
            LogY = logY,
            Height = 320,
            Traces = { new TraceSpec { Type = "bar", Name = yTitle, Categories = names.ToArray(), Y = values.ToArray(),
                ShowLegend = false } },
        };

    /// <summary>One metric of a <see cref="Sweep"/> per variant: the mean over the training seeds (line and markers),
    /// a shaded band of ± one sample std, and each seed's value as a faint point. Variants that all have an X are
    /// plotted over it in X order (<paramref name="logX"/> for a learning rate), else as categories in the given
    /// order. Variants whose mean (band: or std) is not finite are left out of that trace.</summary>
    public static ChartSpec Band(SweepResult sweep, EvalMetric metric, bool logX = false, string? xTitle = null,
        string? title = null)
    {
        bool numeric = sweep.Variants.All(v => v.X is not null);
        var order = numeric ? sweep.Variants.OrderBy(v => v.X).ToList() : sweep.Variants.ToList();
        var points = order.Select(v => (v, s: sweep.Spread(v, metric))).ToList();
        var finite = points.Where(p => double.IsFinite(p.s.Mean)).ToList();
        var banded = finite.Where(p => double.IsFinite(p.s.Std)).ToList();
        var seeds = order.SelectMany(sweep.RunsOf).Where(r => double.IsFinite(r[metric])).ToList();
        int n = sweep.Seeds.Count;
        string spread = $"mean ± std over {n} training seed{(n == 1 ? "" : "s")}";
        const string color = "#1f77b4";
        TraceSpec Trace(IEnumerable<SweepVariant> at, IEnumerable<double> y) => new()
        {
            X = numeric ? at.Select(v => v.X!.Value).ToArray() : null,
            Categories = numeric ? null : at.Select(v => v.Name).ToArray(),
            Y = y.ToArray(),
            Color = color,
        };
        return new()
        {
            Title = title ?? $"{metric.Label} by variant: {spread}",
            XTitle = xTitle ?? (numeric ? "value" : null),
            YTitle = $"{metric.Label} ({spread})",
            LogX = numeric && logX,
            Traces =
            {
                Trace(finite.Select(p => p.v), finite.Select(p => p.s.Mean)) with
                    { Name = "mean", Mode = "lines+markers", LineWidth = 2 },
                Trace(banded.Select(p => p.v), banded.Select(p => p.s.Mean + p.s.Std)) with
                    { Name = "mean + std", Mode = "lines", LineWidth = 0, ShowLegend = false },
                Trace(banded.Select(p => p.v), banded.Select(p => p.s.Mean - p.s.Std)) with
                    { Name = "± std", Mode = "lines", LineWidth = 0, Fill = "tonexty", Opacity = 0.4 },
                Trace(seeds.Select(r => r.Variant), seeds.Select(r => r[metric])) with
                    { Name = "seeds", Mode = "markers", Opacity = 0.35 },
            },
        };
    }

    /// <summary>Exponential moving average with bias correction (Adam-style), so the first points are not pulled to
    /// 0.</summary>
    public static double[] Smooth(IReadOnlyList<double> values, double smoothing)
    {
        var result = new double[values.Count];
        double ema = 0, weight = 0;
        for (int i = 0; i < values.Count; i++)
        {
            ema = smoothing * ema + (1 - smoothing) * values[i];
            weight = smoothing * weight + (1 - smoothing);
            result[i] = ema / weight;
        }
        return result;
    }
}
