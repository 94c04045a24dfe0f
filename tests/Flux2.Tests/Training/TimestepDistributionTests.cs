using Flux2.Training.Config;
using Flux2.Training.Objective;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training;

/// <summary>
/// Each timestep_type's sampled t follows its definition (docs/ai-toolkit-compat.md §2.3). 200k draws
/// (from 1000 tables of 200, so the per-step table randomness averages out) are compared with the analytic CDF by the
/// Kolmogorov–Smirnov statistic max|F_n − F|. Sampling noise alone is ≈ 1.36/√n = 0.003 at 95%; the bound 0.01
/// leaves room for the 1/1000 table grid, and a wrong distribution misses it by far (see the last test).
/// </summary>
public class TimestepDistributionTests(ITestOutputHelper output)
{
    const int Tables = 1000, PerTable = 200, ImageTokens = 1024;
    const double Bound = 0.01;

    static double[] Draw(TimestepType type, ContentOrStyle bias)
    {
        var timesteps = new TimestepDraw(type, bias);
        var rng = new Random(12345);
        return Enumerable.Range(0, Tables).SelectMany(_ => timesteps.Draw(PerTable, ImageTokens, rng)).Select(t => t.T)
            .ToArray();
    }

    /// <summary>The analytic CDF of t for a type and bias. s = share of the index range above t's index.</summary>
    static Func<double, double> Cdf(TimestepType type, ContentOrStyle bias) => (type, bias) switch
    {
        (TimestepType.Linear or TimestepType.Weighted, ContentOrStyle.Balanced) => t => Clamp(1 - IndexShare(t)),
        (TimestepType.Linear, ContentOrStyle.Content) =>
            t => Clamp(1 - Math.Cbrt(IndexShare(t))),                    // index = u³·999: high noise
        (TimestepType.Linear, ContentOrStyle.Style) =>
            t => Clamp(Math.Cbrt(1 - IndexShare(t))),                    // index = (1 − u³)·999
        (TimestepType.Sigmoid, _) => t =>
            Phi(Math.Log(t / (1 - t))),                                  // t = 1 − σ(z): logit(t) ~ N(0, 1)
        (TimestepType.Shift, _) => t => Clamp(1 / (1 + Math.Exp(TimestepDraw.ShiftMu(ImageTokens)) * (1 / t - 1))),
        // inverse of the shift
        (TimestepType.LognormBlend, _) => LognormBlendCdfTable.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>t = (1000 − i)/1000 for index i drawn from [0, 999): P(i ≥ 1000(1 − t)) = 1 − 1000(1 −
    /// t)/999.</summary>
    static double IndexShare(double t) => Clamp((1 - t) * 1000 / 999);

    /// <summary>The integral below is slow, so it is tabulated once on a fine grid and interpolated.</summary>
    static readonly Lazy<Func<double, double>> LognormBlendCdfTable = new(() =>
    {
        const int n = 4000;
        var values = Enumerable.Range(0, n + 1).Select(i => LognormBlendCdf((double)i / n)).ToArray();
        return t =>
        {
            double x = Math.Clamp(t, 0, 1) * n;
            int i = Math.Min((int)x, n - 1);
            return values[i] + (x - i) * (values[i + 1] - values[i]);
        };
    });

    /// <summary>75%: 1 − x/max(x) with ln x ~ N(0, 0.333²) over 750 draws; 25%: uniform. Conditioned on the largest
    /// draw z_max (in N(0,1) units, density 750·φ·Φ^749), the rest are normals below it; integrated over z_max
    /// numerically.</summary>
    static double LognormBlendCdf(double t)
    {
        if (t >= 1) return 1;
        const int n = 750;
        double c = Math.Log(1 - t) / 0.333, sum = 0, dz = 0.002;
        for (double z = 0; z < 6; z += dz)
        {
            double density = n * Pdf(z) * Math.Pow(Phi(z), n - 1);
            double rest = Phi(z) <= 0 ? 0 : Math.Max(0, Phi(z) - Phi(z + c)) / Phi(z);
            // P(1 − x/max ≤ t) = P(z' ≥ z_max + c)
            sum += density * (1.0 / n + (n - 1.0) / n * rest) * dz;
        }
        return 0.75 * sum + 0.25 * Clamp(1 - IndexShare(t));
    }

    [Theory]
    [InlineData(TimestepType.Linear, ContentOrStyle.Balanced)]
    [InlineData(TimestepType.Weighted, ContentOrStyle.Balanced)]
    [InlineData(TimestepType.Sigmoid, ContentOrStyle.Balanced)]
    [InlineData(TimestepType.Shift, ContentOrStyle.Balanced)]
    [InlineData(TimestepType.LognormBlend, ContentOrStyle.Balanced)]
    [InlineData(TimestepType.Linear, ContentOrStyle.Content)]
    [InlineData(TimestepType.Linear, ContentOrStyle.Style)]
    public void SampledTimestepsFollowTheAnalyticDistribution(TimestepType type, ContentOrStyle bias)
    {
        double d = KolmogorovSmirnov(Draw(type, bias), Cdf(type, bias));
        output.WriteLine($"{type}/{bias}: max |F_n - F| = {d:F4} (bound {Bound})");
        Assert.True(d < Bound, $"{type}/{bias}: KS distance {d:F4} >= {Bound}");
    }

    [Fact]
    public void WeightedDrawsCarryTheTableWeightsOfMeanOne()
    {
        var rng = new Random(1);
        var draws = Enumerable.Range(0, 200).SelectMany(_ => new TimestepDraw(TimestepType.Weighted,
            ContentOrStyle.Balanced).Draw(100, 256, rng)).ToList();
        Assert.All(draws, x => Assert.Equal(TimestepWeights.At(x.T), x.Weight, 12));
        Assert.InRange(draws.Average(x => x.Weight), 0.97, 1.03);
    }

    [Theory]
    [InlineData(TimestepType.Sigmoid, TimestepType.Linear)]
    [InlineData(TimestepType.Shift, TimestepType.Linear)]
    [InlineData(TimestepType.LognormBlend, TimestepType.Sigmoid)]
    public void TheTestTellsDistributionsApart(TimestepType sampled, TimestepType assumed)
    {
        double d = KolmogorovSmirnov(Draw(sampled, ContentOrStyle.Balanced), Cdf(assumed, ContentOrStyle.Balanced));
        Assert.True(d > 3 * Bound, $"{sampled} vs {assumed}'s CDF: only {d:F4} apart");
    }

    /// <summary>max |F_n(t) − F(t)| over the distinct sampled values, F_n right-continuous. Comparing only at the
    /// sampled values is exact for the table-based (discrete) types and differs by at most 1/n for continuous
    /// ones.</summary>
    static double KolmogorovSmirnov(double[] samples, Func<double, double> cdf)
    {
        var sorted = samples.Order().ToArray();
        double worst = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            if (i + 1 < sorted.Length && sorted[i + 1] == sorted[i]) continue;
            // F_n jumps after the last of equal values
            worst = Math.Max(worst, Math.Abs((i + 1.0) / sorted.Length - cdf(sorted[i])));
        }
        return worst;
    }

    static double Clamp(double v) => Math.Clamp(v, 0, 1);
    static double Pdf(double z) => Math.Exp(-z * z / 2) / Math.Sqrt(2 * Math.PI);

    /// <summary>Standard normal CDF via erf (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7).</summary>
    static double Phi(double z)
    {
        double x = Math.Abs(z) / Math.Sqrt(2), k = 1 / (1 + 0.3275911 * x);
        double erf = 1 - (((((1.061405429 * k - 1.453152027) * k) + 1.421413741) * k - 0.284496736) * k + 0.254829592)
            * k * Math.Exp(-x * x);
        return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
    }
}
