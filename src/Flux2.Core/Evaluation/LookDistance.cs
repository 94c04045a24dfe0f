namespace Flux2.Evaluation;

/// <summary>
/// How far one set of images is from another in "look" (colour and texture, not content). Each set is first reduced
/// to its average <see cref="ImageStatistics"/> — a look is a property of the set, and the evaluator's prompts show
/// different shapes than the dataset, so image-to-image pairing would measure content instead. The distance is the
/// sum of four terms, each in 0..1 so none dominates by its units:
/// <list type="number">
/// <item>half the L1 distance between the average colour histograms (total variation: the share of pixel mass
/// that would have to change colour bin);</item>
/// <item>mean |Δ| of the per-channel means;</item>
/// <item>mean |Δ| of the per-channel standard deviations;</item>
/// <item>|Δ| of the edge energies.</item></list>
/// L1/total variation rather than chi-square because it stays finite and bounded on empty bins (a style set often
/// leaves most of the 64 bins empty). Identical sets give exactly 0; the distance is symmetric.
/// </summary>
public static class LookDistance
{
    public static double Between(IReadOnlyList<ImageStatistics> a, IReadOnlyList<ImageStatistics> b) =>
        Between(ImageStatistics.Average(a), ImageStatistics.Average(b));

    public static double Between(ImageStatistics a, ImageStatistics b) => Terms(a, b).Total;

    /// <summary>The four terms separately, for tables that explain where a distance comes from.</summary>
    public static LookDistanceTerms Terms(ImageStatistics a, ImageStatistics b)
    {
        double histogram = 0.5 * a.Histogram.Zip(b.Histogram, (x, y) => Math.Abs(x - y)).Sum();
        double mean = a.Mean.Zip(b.Mean, (x, y) => Math.Abs(x - y)).Average();
        double std = a.Std.Zip(b.Std, (x, y) => Math.Abs(x - y)).Average();
        return new LookDistanceTerms(histogram, mean, std, Math.Abs(a.EdgeEnergy - b.EdgeEnergy));
    }
}

/// <summary>The parts of a <see cref="LookDistance"/>; <see cref="Total"/> is their sum.</summary>
public sealed record LookDistanceTerms(double Histogram, double Mean, double Std, double Edges)
{
    public double Total => Histogram + Mean + Std + Edges;
}
