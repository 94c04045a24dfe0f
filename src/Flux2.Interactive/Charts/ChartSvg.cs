using System.Globalization;
using System.Net;
using System.Text;

namespace Flux2.Interactive.Charts;

/// <summary>
/// A chart as a static SVG image, drawn without JavaScript: axes with ticks, scatter traces (lines, markers, a band
/// filled to the trace before), histograms and bars, a second y axis, log x and y axes and a legend. Each chart's HTML
/// output carries it, so an executed notebook reads where scripts do not run (a static viewer, an untrusted notebook,
/// a printed page) and where plotly.js is missing (outputs cleared and the page reloaded); the plotly chart hides it
/// once drawn.
/// </summary>
public static class ChartSvg
{
    /// <summary>plotly's default trace colours, in its order.</summary>
    static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
    const int Left = 60, Right = 60, Top = 50, Bottom = 80;
    const int DefaultBins = 20;
    /// <summary>The approximate width of one 11 px sans-serif character.</summary>
    const double CharWidth = 6.5;

    /// <summary>The SVG document of <paramref name="chart"/>, <see cref="ChartSpec.Width"/> x
    /// <see cref="ChartSpec.Height"/> pixels.</summary>
    public static string Render(ChartSpec chart)
    {
        int width = chart.Width, height = chart.Height;
        double x0 = Left, x1 = width - Right, y0 = height - Bottom, y1 = Top;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" ")
            .Append(CultureInfo.InvariantCulture, $"height=\"{height}\" viewBox=\"0 0 {width} {height}\" ")
            .Append("font-family=\"sans-serif\" font-size=\"11\">")
            .Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        if (chart.Title is { } title) Text(svg, width / 2.0, 28, title, "middle", 15);

        var traces = chart.Traces.Select((t, i) => (t, color: t.Color ?? Palette[i % Palette.Length])).ToList();
        var histograms = Histograms(chart.Traces);
        // Categories in order of first appearance over all traces, as plotly orders them.
        var named = chart.Traces.Where(t => t.Categories is not null).SelectMany(t => t.Categories!).Distinct();
        string[]? categories = chart.Traces.Any(t => t.Categories is not null) ? named.ToArray() : null;
        bool logX = chart.LogX && categories is null;

        // x range: categories by index, else the numbers of every trace (histograms by their bin edges).
        double xMin, xMax;
        if (categories is not null) { xMin = -0.5; xMax = categories.Length - 0.5; }
        else
        {
            var xs = traces.Where(p => p.t.Type == "scatter").SelectMany(p => p.t.X ?? Indexes(p.t.Y))
                .Concat(histograms.Values.SelectMany(h => new[] { h.Edges[0], h.Edges[^1] }))
                .Where(x => !logX || x > 0).Select(x => logX ? Math.Log10(x) : x).ToList();
            (xMin, xMax) = xs.Count > 0 ? (xs.Min(), xs.Max()) : (0, 1);
        }
        var left = Range(traces.Where(p => p.t.YAxis != 2).Select(p => p.t), histograms, chart.LogY,
            fromZero: chart.YFromZero);
        var right = Range(traces.Where(p => p.t.YAxis == 2).Select(p => p.t), histograms, log: false);

        double Px(double x) => x0 + ((logX ? Math.Log10(x) : x) - xMin) / Span(xMin, xMax) * (x1 - x0);
        double Py((double min, double max, bool log) r, double y) =>
            y0 - ((r.log ? Math.Log10(y) : y) - r.min) / Span(r.min, r.max) * (y0 - y1);

        // Axes, grid and ticks.
        svg.Append(CultureInfo.InvariantCulture,
            $"<line x1=\"{x0:F1}\" y1=\"{y0:F1}\" x2=\"{x1:F1}\" y2=\"{y0:F1}\" stroke=\"#444\"/>");
        if (categories is not null)
        {
            // Labels wider than their slot are slanted and shortened, as plotly does with long category names.
            double slot = (x1 - x0) / Math.Max(1, categories.Length);
            bool slant = categories.Any(c => c.Length * CharWidth > slot);
            for (int i = 0; i < categories.Length; i++)
                if (slant) Text(svg, Px(i), y0 + 12, Shorten(categories[i], 24), "end", angle: -25);
                else Text(svg, Px(i), y0 + 15, categories[i], "middle");
        }
        else
            foreach (var t in logX ? LogTicks(xMin, xMax) : Ticks(xMin, xMax))
                Text(svg, Px(t), y0 + 15, Number(t), "middle");
        foreach (var t in left.log ? LogTicks(left.min, left.max) : Ticks(left.min, left.max))
        {
            double py = Py(left, t);
            svg.Append(CultureInfo.InvariantCulture,
                $"<line x1=\"{x0:F1}\" y1=\"{py:F1}\" x2=\"{x1:F1}\" y2=\"{py:F1}\" stroke=\"#eee\"/>");
            Text(svg, x0 - 5, py + 4, Number(t), "end");
        }
        if (traces.Any(p => p.t.YAxis == 2))
            foreach (var t in Ticks(right.min, right.max)) Text(svg, x1 + 5, Py(right, t) + 4, Number(t), "start");
        if (chart.XTitle is { } xt && categories is null) Text(svg, (x0 + x1) / 2, y0 + 32, xt, "middle", 12);
        if (chart.YTitle is { } yt) Text(svg, 14, (y0 + y1) / 2, yt, "middle", 12, angle: -90);
        if (chart.Y2Title is { } y2t) Text(svg, width - 10, (y0 + y1) / 2, y2t, "middle", 12, angle: -90);

        int bars = traces.Count(p => p.t.Type == "bar");
        int barIndex = 0;
        List<(double x, double y)> before = [];
        foreach (var (t, color) in traces)
        {
            var r = t.YAxis == 2 ? right : left;
            string opacity = Invariant($"{t.Opacity ?? 1:0.##}");
            if (t.Type == "histogram" && histograms.TryGetValue(t, out var h))
                for (int b = 0; b < h.Counts.Length; b++)
                    Rect(svg, Px(h.Edges[b]), Px(h.Edges[b + 1]), Py(r, 0), Py(r, h.Counts[b]), color, opacity);
            else if (t.Type == "bar" && t.Y is { } values)
            {
                double slot = 0.8 / (chart.BarMode == "group" ? bars : 1);
                double offset = chart.BarMode == "group" ? -0.4 + slot * barIndex++ : -0.4;
                for (int i = 0; i < values.Length; i++)
                    Rect(svg, Px(i + offset), Px(i + offset + slot), Py(r, r.log ? Math.Pow(10, r.min) : 0),
                        Py(r, values[i]), color, opacity);
            }
            else if (t.Y is { } ys)
            {
                var xs = t.X ?? (t.Categories is { } names
                    ? names.Select(n => (double)Array.IndexOf(categories!, n)).ToArray() : Indexes(ys).ToArray());
                var points = Enumerable.Range(0, Math.Min(xs.Length, ys.Length))
                    .Where(i => double.IsFinite(ys[i]) && (!r.log || ys[i] > 0) && (!logX || xs[i] > 0))
                    .Select(i => (x: Px(xs[i]), y: Py(r, ys[i]))).ToList();
                if (t.Fill == "tonexty" && points.Count + before.Count > 2)
                    svg.Append("<polygon fill=\"").Append(color).Append('"')
                        .Append(CultureInfo.InvariantCulture, $" fill-opacity=\"{(t.Opacity ?? 1) * 0.5:0.###}\"")
                        .Append(" stroke=\"none\" points=\"")
                        .AppendJoin(' ', points.Concat(Enumerable.Reverse(before))
                            .Select(p => Invariant($"{p.x:F1},{p.y:F1}"))).Append("\"/>");
                before = points;
                bool lines = t.Mode is null || t.Mode.Contains("lines", StringComparison.Ordinal);
                if (lines && points.Count > 1 && t.LineWidth != 0)
                {
                    string dash = t.Dash is null ? "" : t.Dash == "dot" ? " stroke-dasharray=\"2,3\"" :
                        " stroke-dasharray=\"6,4\"";
                    svg.Append("<polyline fill=\"none\" stroke=\"").Append(color).Append('"')
                        .Append(CultureInfo.InvariantCulture, $" stroke-width=\"{t.LineWidth ?? 2:0.##}\"")
                        .Append(" stroke-opacity=\"").Append(opacity).Append('"').Append(dash).Append(" points=\"")
                        .AppendJoin(' ', points.Select(p => Invariant($"{p.x:F1},{p.y:F1}"))).Append("\"/>");
                }
                if (t.Mode?.Contains("markers", StringComparison.Ordinal) == true)
                    foreach (var (x, y) in points)
                        svg.Append(CultureInfo.InvariantCulture,
                            $"<circle cx=\"{x:F1}\" cy=\"{y:F1}\" r=\"3\" fill=\"{color}\"")
                            .Append(t.Opacity is null ? "" : $" fill-opacity=\"{opacity}\"").Append("/>");
            }
        }

        // Legend, in one row under the x axis title, for named traces that plotly would list.
        double lx = x0;
        foreach (var (t, color) in traces.Where(p => p.t.ShowLegend && p.t.Name is not null && chart.Traces.Count > 1))
        {
            svg.Append(CultureInfo.InvariantCulture,
                $"<rect x=\"{lx:F1}\" y=\"{height - 22}\" width=\"14\" height=\"8\" fill=\"{color}\"/>");
            Text(svg, lx + 18, height - 14, t.Name!, "start");
            lx += 30 + CharWidth * t.Name!.Length;
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>The SVG as an <c>img</c> element (a data URI), the form HTML sanitizers keep.</summary>
    public static string ImageTag(ChartSpec chart) =>
        "<img class=\"flux2-chart-static\" alt=\"" + WebUtility.HtmlEncode(chart.Title ?? "chart") +
        "\" src=\"data:image/svg+xml;base64," + Convert.ToBase64String(Encoding.UTF8.GetBytes(Render(chart))) + "\">";

    sealed record Histogram(double[] Edges, double[] Counts);

    /// <summary>The histogram traces binned on shared edges over all their values (plotly's overlay look).</summary>
    static Dictionary<TraceSpec, Histogram> Histograms(IEnumerable<TraceSpec> traces)
    {
        var list = traces.Where(t => t.Type == "histogram" && t.X is { Length: > 0 }).ToList();
        var result = new Dictionary<TraceSpec, Histogram>(ReferenceEqualityComparer.Instance);
        if (list.Count == 0) return result;
        var all = list.SelectMany(t => t.X!).Where(double.IsFinite).ToList();
        if (all.Count == 0) return result;
        double min = all.Min(), max = all.Max();
        if (max <= min) max = min + 1;
        int bins = list.Max(t => t.Bins ?? DefaultBins);
        var edges = Enumerable.Range(0, bins + 1).Select(i => min + (max - min) * i / bins).ToArray();
        foreach (var t in list)
        {
            var counts = new double[bins];
            foreach (var v in t.X!.Where(double.IsFinite))
                counts[Math.Min(bins - 1, (int)((v - min) / (max - min) * bins))]++;
            result[t] = new Histogram(edges, counts);
        }
        return result;
    }

    /// <summary>The y range of the traces on one axis (log10 of it for a log axis); bars and histograms start at 0.
    /// </summary>
    static (double min, double max, bool log) Range(IEnumerable<TraceSpec> traces,
        Dictionary<TraceSpec, Histogram> histograms, bool log, bool fromZero = false)
    {
        var list = traces.ToList();
        var ys = list.Where(t => t.Type != "histogram").SelectMany(t => t.Y ?? []).Where(double.IsFinite)
            .Concat(list.Where(histograms.ContainsKey).SelectMany(t => histograms[t].Counts)).ToList();
        if (log)
        {
            var positive = ys.Where(y => y > 0).Select(Math.Log10).ToList();
            // From the power of ten below the smallest value, so the smallest bar keeps a height.
            return positive.Count > 0 ? (Math.Floor(positive.Min() - 0.05), positive.Max(), true) : (0, 1, true);
        }
        if (fromZero || list.Any(t => t.Type is "bar" or "histogram")) ys.Add(0);
        return ys.Count > 0 ? (ys.Min(), ys.Max(), false) : (0, 1, false);
    }

    static IEnumerable<double> Indexes(double[]? ys) => Enumerable.Range(0, ys?.Length ?? 0).Select(i => (double)i);

    static double Span(double min, double max) => max > min ? max - min : 1;

    /// <summary>About five round tick values between min and max.</summary>
    static IEnumerable<double> Ticks(double min, double max)
    {
        if (!(max > min)) return [min];
        double raw = (max - min) / 5, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1, 2, 5, 10 }.Select(f => f * magnitude).First(s => s >= raw);
        var ticks = new List<double>();
        double first = Math.Ceiling(min / step) * step;
        // By index, not by adding step to t: over a range of a few ulps (one loss and its smoothed value) the step is
        // below t's precision and t + step == t.
        for (int i = 0; first + i * step <= max + step * 1e-9; i++)
        {
            double t = first + i * step;
            ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        }
        return ticks.Distinct();
    }

    /// <summary>Ticks of a log axis whose range is given in log10: the powers of ten inside, else round
    /// values.</summary>
    static IEnumerable<double> LogTicks(double min, double max)
    {
        var powers = Enumerable.Range((int)Math.Ceiling(min), Math.Max(0, (int)Math.Floor(max) - (int)Math.Ceiling(min)
            + 1)).Select(k => Math.Pow(10, k)).ToList();
        return powers.Count >= 2 ? powers
            : Ticks(Math.Pow(10, min), Math.Pow(10, max)).Where(t => t > 0);
    }

    static string Number(double v) => Math.Abs(v) >= 1e4 || (v != 0 && Math.Abs(v) < 1e-3)
        ? v.ToString("0.##e0", CultureInfo.InvariantCulture) : v.ToString("0.####", CultureInfo.InvariantCulture);

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    static void Rect(StringBuilder svg, double xa, double xb, double ya, double yb, string color, string opacity) =>
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Math.Min(xa, xb):F1}\" y=\"{Math.Min(ya, yb):F1}\" ")
            .Append(CultureInfo.InvariantCulture, $"width=\"{Math.Abs(xb - xa):F1}\" ")
            .Append(CultureInfo.InvariantCulture, $"height=\"{Math.Abs(yb - ya):F1}\" ")
            .Append("fill=\"").Append(color).Append("\" fill-opacity=\"").Append(opacity).Append("\"/>");

    static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    static void Text(StringBuilder svg, double x, double y, string text, string anchor, int size = 11,
        int angle = 0)
    {
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:F1}\" y=\"{y:F1}\" text-anchor=\"{anchor}\"");
        if (size != 11) svg.Append(CultureInfo.InvariantCulture, $" font-size=\"{size}\"");
        if (angle != 0) svg.Append(CultureInfo.InvariantCulture, $" transform=\"rotate({angle} {x:F1} {y:F1})\"");
        svg.Append('>').Append(WebUtility.HtmlEncode(text)).Append("</text>");
    }
}
