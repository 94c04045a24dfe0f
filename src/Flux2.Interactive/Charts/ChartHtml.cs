namespace Flux2.Interactive.Charts;

/// <summary>
/// Chart HTML for notebook outputs, offline: plotly.js (~3.6 MB) is inlined once per kernel session — into the first
/// chart, or into <see cref="PlotlyJsLoader"/> — and later charts draw with the global <c>Plotly</c> it defines. No
/// output references a CDN. Every chart also carries its static SVG image (<see cref="ChartSvg"/>), shown until plotly
/// draws the chart: where scripts do not run, or plotly.js is missing, the image stays.
/// </summary>
public static class ChartHtml
{
    static readonly object Gate = new();
    static bool inlined;

    /// <summary>True once this kernel session has emitted plotly.js.</summary>
    public static bool PlotlyJsInlined { get { lock (Gate) return inlined; } }

    /// <summary>The chart's HTML; the first call of the session carries plotly.js.</summary>
    public static string Render(ChartSpec chart)
    {
        bool inline;
        lock (Gate) { inline = !inlined; inlined = true; }
        try
        {
            return WithStaticImage(chart, inline ? WithPlotlyJs(PlotlyHost.Render(chart.ToJson(), true))
                : AfterPlotlyJs(PlotlyHost.Render(chart.ToJson(), false)));
        }
        catch { if (inline) lock (Gate) inlined = false; throw; }
    }

    /// <summary>The chart without plotly.js: it draws once an earlier output has defined <c>Plotly</c>.</summary>
    public static string RenderWithoutPlotlyJs(ChartSpec chart) =>
        WithStaticImage(chart, AfterPlotlyJs(PlotlyHost.Render(chart.ToJson(), false)));

    /// <summary>plotly.js alone (no chart) when this session has not emitted it yet, else null. For displays that are
    /// updated in place (live training), whose later versions must not carry or lose plotly.js.</summary>
    public static string? PlotlyJsLoader()
    {
        lock (Gate) { if (inlined) return null; inlined = true; }
        var html = PlotlyHost.Render(new ChartSpec().ToJson(), true);
        int start = html.IndexOf("<script", StringComparison.Ordinal);
        int end = html.IndexOf("</script>", start, StringComparison.Ordinal);
        return WithPlotlyJs(html[start..(end + "</script>".Length)]);
    }

    public static string PlotlyJsVersion => PlotlyHost.PlotlyJsVersion();

    /// <summary>Hides an AMD loader (require.js in classic Jupyter) while plotly.js runs, so it defines the global
    /// <c>window.Plotly</c> instead of registering an anonymous module.</summary>
    static string WithPlotlyJs(string html)
        => "<script type=\"text/javascript\">window.__flux2Define = window.define; window.define = " +
            "undefined;</script>\n"
         + html
         + "\n<script type=\"text/javascript\">if (window.__flux2Define) { window.define = " +
             "window.__flux2Define; }</script>";

    /// <summary>The static image, then the plotly chart, then a script that hides the image once <c>Plotly</c> exists
    /// (the chart's own script has drawn it by then). Front ends that insert outputs with jQuery leave
    /// <c>document.currentScript</c> null, so the script finds its box by id.</summary>
    static string WithStaticImage(ChartSpec chart, string plotlyHtml)
    {
        var id = "flux2-chart-" + Guid.NewGuid().ToString("N");
        return $"<div class=\"flux2-chart\" id=\"{id}\">" + ChartSvg.ImageTag(chart) + plotlyHtml +
            "<script type=\"text/javascript\">(function () { var box = document.getElementById('" + id + "'); " +
            "var image = box && box.querySelector('img.flux2-chart-static'); " +
            "if (image && window.Plotly) image.style.display = 'none'; })();</script></div>";
    }

    /// <summary>Plotly.NET's chart script calls <c>Plotly.newPlot</c> at once; wrap it to wait for the
    /// global.</summary>
    static string AfterPlotlyJs(string html) => html;
}
