using System.Xml.Linq;
using Flux2.Interactive.Charts;
using Xunit;

namespace Flux2.Tests.Notebooks;

/// <summary>The static SVG image every chart output carries: well-formed, one mark per trace element, finite
/// coordinates.</summary>
public sealed class ChartSvgTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void Line_chart_draws_one_polyline_per_trace_with_title_axes_and_legend()
    {
        var steps = Enumerable.Range(1, 50).Select(i => (double)i).ToArray();
        var loss = steps.Select(s => 1.0 / s).ToArray();
        var doc = XDocument.Parse(ChartSvg.Render(Chart.Loss(steps, loss, title: "Training loss <micro>")));

        Assert.Equal(2, doc.Descendants(Svg + "polyline").Count());
        var points = doc.Descendants(Svg + "polyline").First().Attribute("points")!.Value.Split(' ');
        Assert.Equal(50, points.Length);
        var texts = doc.Descendants(Svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("Training loss <micro>", texts);
        Assert.Contains("step", texts);
        Assert.Contains("loss", texts);
        Assert.Contains(texts, t => t.StartsWith("smoothed", StringComparison.Ordinal));
    }

    [Fact]
    public void Loss_chart_of_one_step_renders_where_the_smoothed_loss_differs_in_the_last_bit()
    {
        double loss = 1.9338083267211914;
        Assert.NotEqual(loss, Chart.Smooth([loss], 0.9)[0]);
        var doc = XDocument.Parse(ChartSvg.Render(Chart.Loss([2.0], [loss])));

        Assert.Contains("loss", doc.Descendants(Svg + "text").Select(t => t.Value));
        int gridLines = doc.Descendants(Svg + "line").Count(l => (string?)l.Attribute("stroke") == "#eee");
        Assert.InRange(gridLines, 1, 6);
    }

    [Fact]
    public void Histogram_bins_every_value_and_log_bars_stay_finite()
    {
        var t = Enumerable.Range(0, 100).Select(i => i / 99.0).ToArray();
        var doc = XDocument.Parse(ChartSvg.Render(Chart.TimestepHistogram(t, bins: 10)));
        // The background rect plus one per bin.
        Assert.Equal(11, doc.Descendants(Svg + "rect").Count());

        var bars = ChartSvg.Render(new ChartSpec
        {
            LogY = true,
            Traces = { new TraceSpec { Type = "bar", Categories = ["a", "b"], Y = [0.01, 100] } },
        });
        Assert.DoesNotContain("NaN", bars, StringComparison.Ordinal);
        Assert.DoesNotContain("Infinity", bars, StringComparison.Ordinal);
        Assert.Equal(3, XDocument.Parse(bars).Descendants(Svg + "rect").Count());
    }

    [Fact]
    public void A_constant_learning_rate_is_drawn_at_its_height_above_a_zero_axis()
    {
        double[] steps = [1, 2, 3], lr = [1e-3, 1e-3, 1e-3];
        var doc = XDocument.Parse(ChartSvg.Render(Chart.LearningRate(steps, lr)));
        var texts = doc.Descendants(Svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("0", texts);
        Assert.DoesNotContain(texts, t => t.StartsWith('-'));
        // The line sits at the top of the axis (its maximum), not in the middle of a range around it.
        var ys = doc.Descendants(Svg + "polyline").Single().Attribute("points")!.Value.Split(' ')
            .Select(p => double.Parse(p.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var flat = XDocument.Parse(ChartSvg.Render(Chart.LearningRate(steps, lr) with { YFromZero = false }))
            .Descendants(Svg + "polyline").Single().Attribute("points")!.Value.Split(' ')
            .Select(p => double.Parse(p.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(ys[0] < flat[0], $"line at y {ys[0]} should be above the centred {flat[0]}");
    }
}
