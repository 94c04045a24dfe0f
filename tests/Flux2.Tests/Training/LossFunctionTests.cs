using Flux2.Native;
using Flux2.Training.Config;
using Flux2.Training.Objective;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

public class LossFunctionTests
{
    // One sample, differences d = v − target = (0, 1, −2, 0.5, 0.001, −3); a second sample all zero.
    static (Tensor v, Tensor target) Known()
    {
        TorchRuntime.EnsureLoaded();
        var v = tensor(new float[] { 1, 2, -1, 0.5f, 0.001f, -3, 7, 7, 7, 7, 7, 7 }).view(2, 3, 2);
        var target = tensor(new float[] { 1, 1, 1, 0, 0, 0, 7, 7, 7, 7, 7, 7 }).view(2, 3, 2);
        return (v, target);
    }

    static readonly double[] D = { 0, 1, -2, 0.5, 0.001, -3 };

    [Theory]
    [InlineData(LossType.Mse)]
    [InlineData(LossType.Mae)]
    [InlineData(LossType.PseudoHuber)]
    public void EachLossTypeGivesItsFormulaOnKnownTensors(LossType type)
    {
        var (v, target) = Known();
        const double c = 0.01;
        double expected = D.Average(d => type switch
        {
            LossType.Mse => d * d,
            LossType.Mae => Math.Abs(d),
            _ => Math.Sqrt(d * d + c * c) - c,
        });
        var perSample = new LossFunction(type).PerSample(v, target).data<float>().ToArray();
        Assert.Equal(2, perSample.Length);
        Assert.Equal(expected, perSample[0], 5);
        Assert.Equal(0.0, perSample[1], 7);
    }

    [Fact]
    public void PseudoHuberIsQuadraticForSmallAndLinearForLargeDifferences()
    {
        TorchRuntime.EnsureLoaded();
        var huber = new LossFunction(LossType.PseudoHuber, PseudoHuberC: 0.5);
        var small = huber.PerSample(tensor(new[] { 1e-3f }).view(1, 1), zeros(1, 1)).item<float>();
        var large = huber.PerSample(tensor(new[] { 100f }).view(1, 1), zeros(1, 1)).item<float>();
        Assert.InRange(small, 0.95e-6, 1.05e-6);        // ≈ d² / 2c = 1e-6 (fp32 rounding around c)
        Assert.Equal(100 - 0.5, large, 2);               // ≈ |d| − c
    }

    [Fact]
    public void DifferentialGuidanceScalesTheMseGradientExactly()
    {
        var (v0, target) = Known();
        Tensor Grad(LossFunction f)
        {
            var v = new Parameter(v0.clone(), requires_grad: true);
            f.PerSample(v, target).mean().backward();
            return v.grad!.clone();
        }
        var normal = Grad(LossFunction.Mse);
        var guided = Grad(new LossFunction(DifferentialGuidanceScale: 3));
        Assert.True(normal.abs().max().item<float>() > 0.1);
        Assert.True((guided - 3 * normal).abs().max().item<float>() < 1e-6,
            "guided gradient is not 3 × the normal one");
        // The logged loss grows by s².
        var plain = LossFunction.Mse.PerSample(v0, target)[0].item<float>();
        var loss = new LossFunction(DifferentialGuidanceScale: 3).PerSample(v0, target)[0].item<float>();
        Assert.Equal(9 * plain, loss, 4);
    }

    [Fact]
    public void DifferentialGuidanceIsNotAPlainMultiplierForMae()
    {
        var (v0, target) = Known();
        var v = new Parameter(v0.clone(), requires_grad: true);
        new LossFunction(LossType.Mae, DifferentialGuidanceScale: 3).PerSample(v, target).mean().backward();
        // |v − T′| = s·|v − T|: d/dv of the detached-target form is sign(v − T), not s·sign(v − T)
        // (÷ 6 elements ÷ 2 samples).
        var expected = tensor(D.Select(d => (float)Math.Sign(d) / 12).Concat(Enumerable.Repeat(0f, 6)).ToArray())
            .view(2, 3, 2);
        Assert.True((v.grad! - expected).abs().max().item<float>() < 1e-6);
    }

    [Fact]
    public void ConfigKeysSelectTheLoss()
    {
        var yaml =
            TempDataset.Job("/data", "/out", 1,
                extraTrain:
                    "loss_type: pseudo_huber\n        pseudo_huber_c: 0.2\n        do_differential_guidance: true\n  " +
                    "      differential_guidance_scale: 2.5");
        var loaded = JobConfigReader.Parse(yaml, "job.yaml");
        Assert.Empty(loaded.Warnings);
        Assert.Equal(new LossFunction(LossType.PseudoHuber, 0.2, 2.5), LossFunction.From(loaded.Job.Process.Train));
        var plain =
            JobConfigReader.Parse(TempDataset.Job("/data", "/out", 1, extraTrain: "loss_type: mae"), "job.yaml");
        Assert.Equal(new LossFunction(LossType.Mae), LossFunction.From(plain.Job.Process.Train));
        Assert.Equal(3.0, plain.Job.Process.Train.DifferentialGuidanceScale);
    }
}
