using System.Net;
using System.Reflection;
using System.Text;
using Flux2.Interactive.Charts;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Formatting;

namespace Flux2.Interactive.Display;

/// <summary>
/// Notebook outputs: charts (HTML, plotly.js served by Jupyter), PNG images (image/png), HTML tables. Outside
/// a kernel (a test, a console app) each falls back to a one-line text note on stdout.
/// </summary>
public static class Show
{
    /// <summary>Draws a chart (see <see cref="Charts.Chart"/>).</summary>
    public static DisplayedValue? Chart(ChartSpec chart) => Html(ChartHtml.Render(chart), $"[chart: {chart.Title}]");

    /// <summary>Shows a PNG file.</summary>
    public static DisplayedValue? Png(string path) => Png(PngImage.FromFile(path));

    /// <summary>Shows PNG bytes.</summary>
    public static DisplayedValue? Png(byte[] bytes) => Png(new PngImage(bytes, 0, 0));

    public static DisplayedValue? Png(PngImage image)
    {
        var context = KernelInvocationContext.Current;
        if (context is null)
        {
            Console.WriteLine($"[png: {image.Width}x{image.Height}, {image.Bytes.Length} bytes]");
            return null;
        }
        return context.DisplayAs(image.Base64, "image/png");
    }

    /// <summary>Shows raw HTML.</summary>
    public static DisplayedValue? Html(string html) => Html(html, "[html]");

    /// <summary>A table of objects: one row per item, one column per public property (or per
    /// <paramref name="columns"/>).</summary>
    public static DisplayedValue? Table<T>(IEnumerable<T> rows, params string[] columns)
    {
        var props = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && (columns.Length == 0 || columns.Contains(p.Name)))
                .ToArray();
        if (columns.Length > 0) props = columns.Select(c => props.First(p => p.Name == c)).ToArray();
        return Table(props.Select(p => p.Name).ToArray(), rows.Select(r => props.Select(p => p.GetValue(r)).ToArray()));
    }

    /// <summary>A table from headers and rows of cells (numbers are formatted to 4 significant digits).</summary>
    public static DisplayedValue? Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<object?>> rows,
        string? caption = null)
    {
        var html = TableHtml(headers, rows, caption);
        return Html(html, $"[table: {headers.Count} columns]");
    }

    /// <summary>The HTML of
    /// <see cref="Table(IReadOnlyList{string}, IEnumerable{IReadOnlyList{object?}}, string?)"/>.</summary>
    public static string TableHtml(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<object?>> rows,
        string? caption = null)
    {
        var sb = new StringBuilder("<table style=\"border-collapse:collapse;font-family:sans-serif;font-size:13px\">");
        if (caption is not null) sb.Append("<caption style=\"text-align:left;font-weight:bold;padding:4px\">")
            .Append(WebUtility.HtmlEncode(caption)).Append("</caption>");
        sb.Append("<thead><tr>");
        foreach (var h in headers)
            sb.Append("<th style=\"border-bottom:2px solid #888;padding:3px 8px;text-align:left\">")
                .Append(WebUtility.HtmlEncode(h)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var row in rows)
        {
            sb.Append("<tr>");
            foreach (var cell in row) sb.Append("<td style=\"border-bottom:1px solid #ddd;padding:3px 8px\">")
                .Append(WebUtility.HtmlEncode(Cell(cell))).Append("</td>");
            sb.Append("</tr>");
        }
        return sb.Append("</tbody></table>").ToString();
    }

    static string Cell(object? value) => value switch
    {
        null => "",
        double d => d.ToString(Math.Abs(d) >= 1e5 || (Math.Abs(d) < 1e-3 && d != 0) ? "G4" : "0.####",
            System.Globalization.CultureInfo.InvariantCulture),
        float f => Cell((double)f),
        IEnumerable<string> list => string.Join(", ", list),
        _ => value.ToString() ?? "",
    };

    /// <summary>An output that a later <see cref="DisplayedValue.Update"/> can replace: <paramref name="initial"/> is a
    /// <see cref="PngImage"/> or an <see cref="HtmlFragment"/>, and so must the updates be.</summary>
    public static DisplayedValue? Updatable(object initial)
    {
        var context = KernelInvocationContext.Current;
        if (context is null) return null;
        Formatters.EnsureRegistered();
        return context.Display(initial, initial is PngImage ? "image/png" : "text/html");
    }

    static DisplayedValue? Html(string html, string note)
    {
        var context = KernelInvocationContext.Current;
        if (context is null) { Console.WriteLine(note); return null; }
        return context.DisplayAs(html, "text/html");
    }
}
