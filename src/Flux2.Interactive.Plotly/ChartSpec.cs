using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flux2.Interactive.Plotly;

/// <summary>One series of a chart: plotly trace <see cref="Type"/> ("scatter", "histogram", "bar"), its data and look.
/// Mirrors Flux2.Interactive's spec record field for field; the two sides share only its JSON text.</summary>
public sealed record TraceSpec
{
    public string Type { get; init; } = "scatter";
    public string? Name { get; init; }
    public double[]? X { get; init; }
    public double[]? Y { get; init; }
    public string[]? Categories { get; init; }
    public string? Mode { get; init; }
    public int YAxis { get; init; } = 1;
    public double? Opacity { get; init; }
    public double? LineWidth { get; init; }
    public string? Dash { get; init; }
    public string? Color { get; init; }
    public int? Bins { get; init; }
    public bool ShowLegend { get; init; } = true;
}

/// <summary>A whole chart: traces plus the few layout settings the notebooks need.</summary>
public sealed record ChartSpec
{
    public string? Title { get; init; }
    public string? XTitle { get; init; }
    public string? YTitle { get; init; }
    public string? Y2Title { get; init; }
    public bool LogY { get; init; }
    public string? BarMode { get; init; }
    public int Width { get; init; } = 720;
    public int Height { get; init; } = 380;
    public List<TraceSpec> Traces { get; init; } = new();

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
}
