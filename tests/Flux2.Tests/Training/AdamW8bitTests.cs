using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Network;
using Flux2.Training.Optim;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

public class AdamW8bitTests(ITestOutputHelper output)
{
    static readonly AdamWHyperParameters Hyper = new(Lr: 0.01, WeightDecay: 1e-2);

    /// <summary>Gaussian values whose scale jumps by decades from block to block, with a short tail block.</summary>
    static Tensor Data(int blocks, int tail, bool signed, int seed)
    {
        using var gen = new TorchSharp.torch.Generator((ulong)seed);
        var x = randn(new long[] { blocks * 256 + tail }, generator: gen);
        var decade = pow(10f, rand(new long[] { blocks + 1 }, generator: gen) * 6 - 4)
            .repeat_interleave(256)[..(int)x.numel()];
        return (signed ? x : x.abs()) * decade;
    }

    /// <summary>Half the distance between the two codes around u: the most a nearest-code rounding can be off
    /// (outside the codes' range, the distance to the end code: −1 → −0.993 in the signed map).</summary>
    static double HalfGap(QuantizationMap map, double u)
    {
        var v = map.Values;
        int hi = Array.FindIndex(v, c => c >= u);
        if (hi == 0) return v[0] - u;
        if (hi < 0) return u - v[^1];
        return (v[hi] - v[hi - 1]) / 2.0;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RoundTripErrorStaysWithinTheCodeGapOfEachBlock(bool signed)
    {
        TorchRuntime.EnsureLoaded();
        var map = signed ? QuantizationMap.DynamicSigned : QuantizationMap.DynamicUnsigned;
        var q = new BlockQuantizer(map);
        using var x = Data(blocks: 7, tail: 100, signed, seed: 3);
        long n = x.numel();
        using var codes = zeros(n, ScalarType.Byte);
        using var absmax = zeros(q.BlockCount(n));
        q.Quantize(x, codes, absmax);
        using var back = q.Dequantize(codes, absmax);

        var xs = x.data<float>().ToArray();
        var ys = back.data<float>().ToArray();
        var scales = absmax.data<float>().ToArray();
        Assert.Equal(8, scales.Length); // 7 full blocks + the 100-value tail with its own scale
        for (int b = 0; b < scales.Length; b++)
        {
            var block = xs.Skip(b * 256).Take(256).ToArray();
            Assert.Equal(block.Max(Math.Abs), scales[b], 6);
            for (int i = 0; i < block.Length; i++)
            {
                double u = block[i] / scales[b], err = Math.Abs(ys[b * 256 + i] - block[i]);
                double bound = scales[b] * (HalfGap(map, u) + 1e-6);
                Assert.True(err <= bound,
                    $"block {b} value {block[i]} -> {ys[b * 256 + i]}: error {err} above {bound}");
                Assert.True(Math.Sign(ys[b * 256 + i]) == Math.Sign(block[i]) || ys[b * 256 + i] == 0);
            }
        }
        // The block maximum is a code (1.0) for positive values; the top decade keeps it within 0.71% of absmax.
        double worstTop = xs.Select((v, i) => (v, i)).Where(p => Math.Abs(p.v) >= 0.1 * scales[p.i / 256])
                            .Max(p => Math.Abs(ys[p.i] - p.v) / scales[p.i / 256]);
        output.WriteLine($"{(signed ? "signed" : "unsigned")}: worst error of the top decade {worstTop:P2} of absmax");
        Assert.True(worstTop <= (signed ? 0.0071 : 0.0036));
    }

    [Fact]
    public void DynamicMapKeepsSmallValuesThatALinearMapZeroes()
    {
        TorchRuntime.EnsureLoaded();
        // One large value per block sets the scale; the rest sit 1e-3 .. 1e-2 below it (like most of a moment's block).
        using var gen = new TorchSharp.torch.Generator(9);
        var x = (rand(new long[] { 4, 256 }, generator: gen) * 9e-3 + 1e-3);
        x[.., 0] = tensor(1f);
        using var flat = x.flatten();
        double RelativeError(QuantizationMap map)
        {
            var q = new BlockQuantizer(map);
            using var codes = zeros(flat.numel(), ScalarType.Byte);
            using var absmax = zeros(q.BlockCount(flat.numel()));
            q.Quantize(flat, codes, absmax);
            using var back = q.Dequantize(codes, absmax);
            return ((back - flat).abs() / flat).mean().item<float>();
        }
        double dynamic = RelativeError(QuantizationMap.DynamicUnsigned),
            linear = RelativeError(QuantizationMap.Linear(signed: false));
        output.WriteLine($"mean relative error at 1e-3..1e-2 of absmax: dynamic {dynamic:P1}, linear {linear:P1}");
        Assert.True(dynamic < 0.05, $"dynamic {dynamic:P1}");
        Assert.True(linear > 4 * dynamic, $"linear {linear:P1} vs dynamic {dynamic:P1}");
    }

    [Fact]
    public void ZeroBlocksAndZeroStateDecodeToExactZero()
    {
        TorchRuntime.EnsureLoaded();
        foreach (var map in new[] { QuantizationMap.DynamicSigned, QuantizationMap.DynamicUnsigned })
        {
            var q = new BlockQuantizer(map);
            using var x = zeros(300);
            using var codes = zeros(300, ScalarType.Byte);
            using var absmax = zeros(2);
            q.Quantize(x, codes, absmax);
            using var back = q.Dequantize(codes, absmax);
            Assert.Equal(0f, back.abs().max().item<float>());
        }
    }

    static Parameter[] Params(int seed, params long[][] shapes)
    {
        using var gen = new TorchSharp.torch.Generator((ulong)seed);
        return shapes.Select(s => new Parameter(randn(s, generator: gen))).ToArray();
    }

    /// <summary>0.5 Σ a (x − c)² with curvatures a over four decades: Adam's per-coordinate scaling at
    /// work.</summary>
    sealed class Quadratic
    {
        readonly Tensor a, c;
        public Quadratic(long n)
        {
            using var gen = new TorchSharp.torch.Generator(11);
            a = pow(10f, rand(new long[] { n }, generator: gen) * 4 - 2);
            c = randn(new long[] { n }, generator: gen);
        }
        public Tensor Loss(Parameter[] ps) => (0.5 * a * (cat(ps.Select(p => p.flatten()).ToArray()) - c).square())
            .sum();
    }

    static List<double> Minimize(ITrainingOptimizer opt, Parameter[] ps, Quadratic f, int steps)
    {
        var losses = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            opt.ZeroGrad();
            var loss = f.Loss(ps);
            losses.Add(loss.item<float>());
            loss.backward();
            opt.Step();
        }
        return losses;
    }

    [Fact]
    public void QuadraticConvergesLikeAdamW()
    {
        TorchRuntime.EnsureLoaded();
        long[][] shapes = { new long[] { 16, 200 }, new long[] { 1000 }, new long[] { 7 } };
        var f = new Quadratic(16 * 200 + 1000 + 7);
        var p32 = Params(1, shapes);
        var p8 = Params(1, shapes);
        var hyper = Hyper with { Lr = 0.05, WeightDecay = 0 };
        using var adamw = new TorchAdamW(p32, hyper);
        using var adamw8 = new AdamW8bit(p8, hyper);
        var l32 = Minimize(adamw, p32, f, 400);
        var l8 = Minimize(adamw8, p8, f, 400);
        foreach (int i in new[] { 0, 50, 100, 200, 399 })
            output.WriteLine($"step {i,3}: adamw {l32[i],10:G4}  adamw8bit {l8[i],10:G4}");
        Assert.True(l32[^1] < 1e-3 * l32[0], "AdamW itself must converge for this comparison to mean anything");
        Assert.True(l8[^1] < 1e-3 * l8[0], $"8-bit: {l8[0]:G4} -> {l8[^1]:G4}");
        // As fast: the steps to cut the loss by 10^3 and by 10^6 are within 15% of AdamW's.
        foreach (double cut in new[] { 1e-3, 1e-6 })
        {
            int n32 = l32.FindIndex(l => l < cut * l32[0]), n8 = l8.FindIndex(l => l < cut * l8[0]);
            output.WriteLine($"loss below {cut:G1} x start: AdamW after {n32} steps, AdamW8bit after {n8}");
            Assert.True(n32 > 0 && n8 > 0 && Math.Abs(n8 - n32) <= 0.15 * n32, $"{n8} vs {n32} steps");
        }
    }

    [Fact]
    public void FirstStepsFollowTorchAdamWClosely()
    {
        TorchRuntime.EnsureLoaded();
        long[][] shapes = { new long[] { 8, 300 }, new long[] { 300, 8 } };
        var p32 = Params(2, shapes);
        var p8 = Params(2, shapes);
        using var adamw = new TorchAdamW(p32, Hyper);
        using var adamw8 = new AdamW8bit(p8, Hyper);
        var start = p32.Select(p => p.detach().clone()).ToArray();
        var f = new Quadratic(2 * 8 * 300);
        Minimize(adamw, p32, f, 5);
        Minimize(adamw8, p8, f, 5);
        double moved = 0, apart = 0;
        for (int i = 0; i < shapes.Length; i++)
        {
            moved += (p32[i] - start[i]).abs().sum().item<float>();
            apart += (p8[i] - p32[i]).abs().sum().item<float>();
        }
        output.WriteLine($"5 steps: AdamW moved {moved:G4} in total; the 8-bit parameters differ from AdamW's by " +
            $"{apart / moved:P2} of that");
        Assert.True(apart < 0.05 * moved);
    }

    [Fact]
    public void LearningRateZeroLeavesParametersUnchanged()
    {
        TorchRuntime.EnsureLoaded();
        var ps = Params(3, new long[] { 10, 30 });
        var before = ps[0].detach().clone();
        using var opt = new AdamW8bit(ps, Hyper) { LearningRate = 0 };
        Minimize(opt, ps, new Quadratic(300), 3);
        Assert.True(before.eq(ps[0]).all().item<bool>());
        Assert.Equal(3, opt.Steps);
    }

    [Theory]
    [InlineData(OptimizerType.Adamw)]
    [InlineData(OptimizerType.Adamw8bit)]
    public void SavedStateResumesBitIdentically(OptimizerType type)
    {
        TorchRuntime.EnsureLoaded();
        long[][] shapes = { new long[] { 4, 300 }, new long[] { 50 } };
        var f = new Quadratic(1250);
        var straight = Params(4, shapes);
        using var a = OptimizerFactory.Create(type, straight, 0.02, new OptimizerParams());
        Minimize(a, straight, f, 5);
        var saved = a.State().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var resumed = straight.Select(p => new Parameter(p.detach().clone())).ToArray();
        Minimize(a, straight, f, 5);

        using var b = OptimizerFactory.Create(type, resumed, 0.02, new OptimizerParams());
        b.Load(saved);
        Minimize(b, resumed, f, 5);
        for (int i = 0; i < shapes.Length; i++) Assert.True(straight[i].eq(resumed[i]).all().item<bool>(),
            $"parameter {i} differs after resume");
    }

    [Fact]
    public void StateOfTinyLoraIsAtMostThirtyPercentOfAdamW()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.CreateTinyRandom(0);
        using var lora = LoraNetwork.Attach(models.Transformer, new NetworkConfig { Linear = 4 }, seed: 1);
        var ps = lora.Parameters.ToList();
        using var adamw = OptimizerFactory.Create(OptimizerType.Adamw, ps, 1e-3, new OptimizerParams());
        using var adamw8 = OptimizerFactory.Create(OptimizerType.Adamw8bit, ps, 1e-3, new OptimizerParams());
        long values = ps.Sum(p => p.numel());
        double ratio = (double)adamw8.StateBytes / adamw.StateBytes;
        output.WriteLine($"tiny LoRA r4, {values:N0} values in {ps.Count} tensors: AdamW {adamw.StateBytes:N0} B, " +
            $"AdamW8bit {adamw8.StateBytes:N0} B, ratio {ratio:P1}");
        Assert.Equal(8 * values, adamw.StateBytes);
        Assert.True(ratio <= 0.30, $"ratio {ratio:P1}");
    }

    [Fact]
    public void TinyLoraRunLossCurveStaysWithinNoiseOfAdamW()
    {
        var data = TempDataset.Create();
        var scratch = TestPaths.TempDir();
        var c = OptimizerComparison.Run(() => JobConfigReader.Parse(TempDataset.Job(data, scratch, 40), "tiny.yaml"),
            scratch, window: 10);
        var (a, b, n) = (c.Windowed(c.AdamW), c.Windowed(c.AdamW8bit), c.Windowed(c.AdamWOtherSeed));
        for (int i = 0; i < a.Count; i++)
            output.WriteLine($"steps {i * 10 + 1,2}-{i * 10 + 10,2}: adamw {a[i]:F4}  adamw8bit {b[i]:F4}  adamw " +
                $"other seed {n[i]:F4}");
        foreach (var r in new[] { c.AdamW, c.AdamW8bit, c.AdamWOtherSeed })
            output.WriteLine($"{r.Label}: fixed-input loss {r.EvalBefore:F4} -> {r.EvalAfter:F4}");
        output.WriteLine($"state {c.AdamW8bitStateBytes:N0} / {c.AdamWStateBytes:N0} B = {c.StateRatio:P1}; curve " +
            $"gap {c.EightBitGap:F5} vs noise {c.Noise:F5}");

        Assert.All(new[] { c.AdamW, c.AdamW8bit, c.AdamWOtherSeed }, r => Assert.Equal(40, r.Losses.Count));
        Assert.True(c.StateRatio <= 0.30, $"state ratio {c.StateRatio:P1}");
        Assert.True(c.EightBitGap < c.Noise,
            $"8-bit curve {c.EightBitGap:F5} away from AdamW's, run-to-run noise {c.Noise:F5}");
        Assert.True(c.AdamW8bit.EvalAfter < 0.95 * c.AdamW8bit.EvalBefore, "the 8-bit run must learn");
        Assert.InRange(c.AdamW8bit.EvalAfter - c.AdamW.EvalAfter, -0.1 * c.AdamW.EvalAfter, 0.1 * c.AdamW.EvalAfter);
    }
}
