using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flux2.Interactive.Charts;

/// <summary>One series of a chart: plotly trace <see cref="Type"/> ("scatter", "histogram", "bar"), its data and look.
/// Plain data only: it travels as JSON to the Plotly.NET helper in its private load context
/// (the helper compiles this same file, so both sides agree field for field).</summary>
public sealed record TraceSpec
{
    public string Type { get; init; } = "scatter";
    public string? Name { get; init; }
    public double[]? X { get; init; }
    public double[]? Y { get; init; }
    public string[]? Categories { get; init; }
    /// <summary>"lines", "markers", "lines+markers".</summary>
    public string? Mode { get; init; }
    /// <summary>1 = left axis, 2 = right axis.</summary>
    public int YAxis { get; init; } = 1;
    public double? Opacity { get; init; }
    public double? LineWidth { get; init; }
    /// <summary>"dash", "dot", ...</summary>
    public string? Dash { get; init; }
    public string? Color { get; init; }
    public int? Bins { get; init; }
    /// <summary>plotly fill: "tonexty" shades the area between this trace and the one before it (a ± std band) in
    /// the trace's colour at half its opacity.</summary>
    public string? Fill { get; init; }
    public bool ShowLegend { get; init; } = true;
}

/// <summary>A chart as data: traces plus a title, axis titles and size. <see cref="Chart"/> builds them,
/// <see cref="Display.Show.Chart"/> draws them.</summary>
public sealed record ChartSpec
{
    public string? Title { get; init; }
    public string? XTitle { get; init; }
    public string? YTitle { get; init; }
    public string? Y2Title { get; init; }
    public bool LogY { get; init; }
    /// <summary>A log x axis (e.g. learning rates); values ≤ 0 are left out.</summary>
    public bool LogX { get; init; }
    /// <summary>The left y axis starts at 0 (a constant series then reads as its value, not as a flat line at an
    /// arbitrary height).</summary>
    public bool YFromZero { get; init; }
    /// <summary>plotly barmode for several histograms/bars: "overlay", "group", "stack".</summary>
    public string? BarMode { get; init; }
    public int Width { get; init; } = 720;
    public int Height { get; init; } = 380;
    public List<TraceSpec> Traces { get; init; } = new();

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition =
        JsonIgnoreCondition.WhenWritingNull
    };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

/// <summary>A named curve for <see cref="Chart.Lines"/> and <see cref="Chart.Overlay"/>.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);
