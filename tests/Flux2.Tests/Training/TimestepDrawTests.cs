using Flux2.Training.Config;
using Flux2.Training.Objective;
using Xunit;

namespace Flux2.Tests.Training;

public class TimestepDrawTests
{
    static double[] Draw(TimestepType type, ContentOrStyle bias = ContentOrStyle.Balanced, int n = 6000,
        int tokens = 1024)
    {
        var timesteps = new TimestepDraw(type, bias);
        var rng = new Random(11);
        return Enumerable.Range(0, n / 4).SelectMany(_ => timesteps.Draw(4, tokens, rng)).Select(t => t.T).ToArray();
    }

    [Fact]
    public void LinearIsUniformOverZeroOne()
    {
        var t = Draw(TimestepType.Linear);
        Assert.InRange(t.Average(), 0.48, 0.52);
        Assert.InRange(t.Min(), 0.0009, 0.01);
        Assert.InRange(t.Max(), 0.99, 1.0);
        Assert.InRange(t.Count(x => x < 0.25) / (double)t.Length, 0.23, 0.27);
    }

    [Fact]
    public void SigmoidIsLogitNormalCentredAtAHalf()
    {
        var t = Draw(TimestepType.Sigmoid);
        Assert.InRange(t.Average(), 0.48, 0.52);
        // logit-normal(0,1): P(t < 0.25) = Φ(−1.0986) ≈ 0.136, far from uniform's 0.25.
        Assert.InRange(t.Count(x => x < 0.25) / (double)t.Length, 0.11, 0.16);
        Assert.All(t, x => Assert.InRange(x, 0.0, 1.0));
    }

    [Fact]
    public void WeightedIsUniformWithBellShapedWeightsOfMeanOne()
    {
        var timesteps = new TimestepDraw(TimestepType.Weighted, ContentOrStyle.Balanced);
        var rng = new Random(5);
        var draws = Enumerable.Range(0, 2000).SelectMany(_ => timesteps.Draw(4, 1024, rng)).ToArray();
        Assert.InRange(draws.Average(d => d.T), 0.48, 0.52);
        Assert.InRange(draws.Average(d => d.Weight), 0.96, 1.04);
        Assert.True(TimestepWeights.At(0.88) > TimestepWeights.At(0.5)
            && TimestepWeights.At(0.5) > TimestepWeights.At(0.02));
        Assert.InRange(TimestepWeights.At(0.9) / TimestepWeights.At(0.0), 3.2, 3.5);
        // 1.507 / 0.447 in the reference table
    }

    [Fact]
    public void ShiftPushesTowardsNoiseMoreAtHigherResolution()
    {
        double small = Draw(TimestepType.Shift, tokens: 256).Average(),
            large = Draw(TimestepType.Shift, tokens: 4096).Average();
        Assert.True(small > 0.55 && large > small, $"mean t {small:F3} at 256 tokens, {large:F3} at 4096");
        Assert.Equal(1.15, TimestepDraw.ShiftMu(4096), 6);
    }

    [Fact]
    public void ContentBiasFavoursHighNoiseAndStyleLowNoise()
    {
        Assert.True(Draw(TimestepType.Linear, ContentOrStyle.Content).Average() > 0.7);
        Assert.True(Draw(TimestepType.Linear, ContentOrStyle.Style).Average() < 0.3);
        Assert.InRange(Draw(TimestepType.LognormBlend).Average(), 0.05, 0.95);
    }

    [Theory]
    [InlineData(LrSchedulerType.Constant, 50, 1.0)]
    [InlineData(LrSchedulerType.Cosine, 55, 0.5)]
    [InlineData(LrSchedulerType.Linear, 55, 0.5)]
    [InlineData(LrSchedulerType.Cosine, 99, 0.0)]
    public void LearningRateScheduleWarmsUpThenDecays(LrSchedulerType type, int step, double expected)
    {
        var s = new LearningRateSchedule(type, totalSteps: 100, warmupSteps: 10);
        Assert.Equal(0.1, s.Factor(0), 6);
        Assert.Equal(1.0, s.Factor(9), 6);
        Assert.Equal(expected, s.Factor(step), 1);
    }
}
