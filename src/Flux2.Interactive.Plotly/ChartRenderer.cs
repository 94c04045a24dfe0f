using System.Text.Json;
using Flux2.Interactive.Charts;
using Microsoft.FSharp.Core;
using Plotly.NET;

namespace Flux2.Interactive.Plotly;

/// <summary>
/// The entry point Flux2.Interactive calls by reflection from its private AssemblyLoadContext: a JSON
/// <see cref="ChartSpec"/> in, HTML out (strings only cross the boundary, so no Plotly.NET or FSharp.Core type ever
/// meets the kernel's own FSharp.Core).
/// </summary>
public static class ChartRenderer
{
    /// <summary>
    /// The chart as an HTML fragment without plotly.js: the chart's div and a script that defines
    /// <c>renderPlotly_&lt;id&gt;</c> and calls it, drawing with the global <c>Plotly</c>.
    /// </summary>
    public static string Render(string specJson)
    {
        var spec = JsonSerializer.Deserialize<ChartSpec>(specJson, ChartSpec.Json)
            ?? throw new ArgumentException("empty chart spec");
        return GenericChart.toChartHTML(Build(spec));
    }

    /// <summary>plotly.js itself: the script Plotly.NET inlines with <c>PlotlyJSReference.Full</c>.</summary>
    public static string PlotlyJs()
    {
        var options = DisplayOptions.init(null, null, null, null, null, null,
            FSharpOption<PlotlyJSReference>.Some(PlotlyJSReference.Full));
        var html = GenericChart.toEmbeddedHTML(Chart.withDisplayOptions(options).Invoke(Build(new ChartSpec())));
        int open = html.IndexOf("<script", StringComparison.Ordinal);
        int start = open < 0 ? -1 : html.IndexOf('>', open);
        int end = start < 0 ? -1 : html.IndexOf("</script>", start, StringComparison.Ordinal);
        if (end < 0) throw new InvalidOperationException("Plotly.NET's HTML carries no inlined plotly.js");
        return html[(start + 1)..end];
    }

    /// <summary>The plotly.js version Plotly.NET inlines (for tests and the environment report).</summary>
    public static string PlotlyJsVersion() => Globals.PLOTLYJS_VERSION;

    static GenericChart Build(ChartSpec spec)
    {
        var traces = spec.Traces.Select(ToTrace).ToArray();
        var chart = GenericChart.ofTraceObjects(true, traces);
        var layout = new Layout();
        if (spec.Title is { } title) layout.SetProperty("title", new Dictionary<string, object> { ["text"] = title });
        layout.SetProperty("xaxis", Axis(spec.XTitle, spec.LogX));
        var y = Axis(spec.YTitle, spec.LogY);
        if (spec.YFromZero) y["rangemode"] = "tozero";
        layout.SetProperty("yaxis", y);
        if (spec.Traces.Any(t => t.YAxis == 2))
        {
            var y2 = Axis(spec.Y2Title, log: false);
            y2["overlaying"] = "y"; y2["side"] = "right"; y2["showgrid"] = false;
            layout.SetProperty("yaxis2", y2);
        }
        if (spec.BarMode is { } barMode) layout.SetProperty("barmode", barMode);
        layout.SetProperty("width", spec.Width);
        layout.SetProperty("height", spec.Height);
        layout.SetProperty("margin", new Dictionary<string, object> { ["l"] = 60, ["r"] = 60, ["t"] = 50, ["b"] = 50 });
        layout.SetProperty("legend", new Dictionary<string, object> { ["orientation"] = "h", ["y"] = -0.2 });
        return GenericChart.addLayout(layout, chart);
    }

    static Dictionary<string, object> Axis(string? title, bool log)
    {
        var axis = new Dictionary<string, object>();
        if (title is not null) axis["title"] = new Dictionary<string, object> { ["text"] = title };
        if (log) axis["type"] = "log";
        return axis;
    }

    static Trace ToTrace(TraceSpec t)
    {
        var trace = new Trace(t.Type);
        if (t.Name is not null) trace.SetProperty("name", t.Name);
        if (t.Categories is not null) trace.SetProperty("x", t.Categories);
        else if (t.X is not null) trace.SetProperty("x", t.X);
        if (t.Y is not null) trace.SetProperty("y", t.Y);
        if (t.Mode is not null) trace.SetProperty("mode", t.Mode);
        if (t.YAxis == 2) trace.SetProperty("yaxis", "y2");
        if (t.Opacity is { } o) trace.SetProperty("opacity", o);
        if (t.Bins is { } bins) trace.SetProperty("nbinsx", bins);
        if (t.Fill is not null) trace.SetProperty("fill", t.Fill);
        if (!t.ShowLegend) trace.SetProperty("showlegend", false);
        var line = new Dictionary<string, object>();
        if (t.LineWidth is { } w) line["width"] = w;
        if (t.Dash is not null) line["dash"] = t.Dash;
        if (t.Color is not null) line["color"] = t.Color;
        if (line.Count > 0 && t.Type == "scatter") trace.SetProperty("line", line);
        if (t.Color is not null && t.Type != "scatter") trace.SetProperty("marker",
            new Dictionary<string, object> { ["color"] = t.Color });
        return trace;
    }
}
