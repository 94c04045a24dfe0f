using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Quantization;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Network;
using Flux2.Training.Optim;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Tests.Nn;

/// <summary>The grouped unsigned types (uint2-uint8, uint4 above all): bit packing, the per-element round-trip bound,
/// storage bytes, and LoRA training over a uint4 base.</summary>
public class GroupedQuantizationTests(ITestOutputHelper output)
{
    public static TheoryData<int> Bits => new() { 2, 3, 4, 5, 6, 7, 8 };

    [Theory]
    [MemberData(nameof(Bits))]
    public void PackThenUnpackGivesEveryCodeBackExactly(int bits)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        // Every code value in every position of a word: random codes plus the extremes.
        var codes = randint(0, 1 << bits, new long[] { 5, 128 }, dtype: ScalarType.Byte, generator: new Generator(1));
        codes[0] = full(128, (1 << bits) - 1, ScalarType.Byte);
        codes[1] = zeros(128, ScalarType.Byte);
        var packed = QuantizedWeight.Pack(codes, bits);
        Assert.Equal(ScalarType.Byte, packed.dtype);
        Assert.Equal(new long[] { 5, 128 * bits / 8 }, packed.shape);
        var back = QuantizedWeight.Unpack(packed, bits);
        Assert.Equal(ScalarType.Byte, back.dtype);
        Assert.True(back.eq(codes).all().item<bool>(), $"uint{bits}: unpacked codes differ");
    }

    [Fact]
    public void Uint4PacksTwoCodesPerByteLowNibbleFirst()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var codes = tensor(new byte[] { 1, 2, 15, 0, 7, 9 }).view(1, 6);
        Assert.Equal(new byte[] { 0x21, 0x0F, 0x97 }, QuantizedWeight.Pack(codes, 4).data<byte>().ToArray());
    }

    public static TheoryData<string> Names => new() { "uint2", "uint3", "uint4", "uint5", "uint6", "uint7", "uint8" };

    [Theory]
    [MemberData(nameof(Names))]
    public void GroupedRoundTripStaysWithinHalfAScalePerElement(string qtype)
    {
        TorchRuntime.EnsureLoaded();
        var type = QuantType.Parse(qtype);
        using var scope = NewDisposeScope();
        var g = new Generator(2);
        // Rows of very different magnitudes, a zero row, a row of positive weights only and one offset far from zero
        // (the zero point covers them).
        var w = randn(new long[] { 16, 256 }, generator: g) * exp(randn(new long[] { 16, 1 }, generator: g) * 2);
        w[3] = zeros(256);
        w[4] = w[4].abs();
        w[5] = randn(256, generator: g) * 0.01 + 1;
        var (q, scale, zero) = QuantizedWeight.Quantize(w, type);
        Assert.Equal(new long[] { 16, 256 * type.Bits / 8 }, q.shape);
        Assert.Equal(new long[] { 16, 4 }, scale.shape);
        Assert.Equal(ScalarType.BFloat16, scale.dtype);
        Assert.Equal(new long[] { 16, 4 }, zero!.shape);
        Assert.Equal(ScalarType.Byte, zero.dtype);
        var back = QuantizedWeight.FloatCopy(type, q, scale, zero, ScalarType.Float64);

        // (q - z) · scale is within scale / 2 of every weight, the ends of each group's range included.
        var perElement = scale.to(ScalarType.Float64).repeat_interleave(64, 1);
        var err = (back - w.to(ScalarType.Float64)).abs();
        var worst = (err / perElement).max().item<double>();
        output.WriteLine($"{qtype}: largest |w - (q - z)·scale| / scale = {worst:F4}");
        Assert.True(worst <= 0.5 * (1 + 1e-5), $"{qtype}: an element is {worst} scales off");
        Assert.True(worst > 0.4, "the round trip is expected to use most of its half step");
        // The zero row comes back as zeros with scale 1, zero point 0.
        Assert.Equal(0.0, back[3].abs().max().item<double>());
        Assert.True(scale[3].eq(1).all().item<bool>() && zero[3].eq(0).all().item<bool>());
        // Positive-only rows have zero point 0; each scale is at most one bf16 step above (max - min) / (2^N - 1).
        Assert.True(zero[4].eq(0).all().item<bool>());
        var groups = w.view(16, 4, 64);
        var span = groups.amax(new long[] { -1 }).clamp_min(0) - groups.amin(new long[] { -1 }).clamp_max(0);
        var ideal = span / type.MaxCode;
        var nonzero = span.gt(0);
        var s = scale.to(ScalarType.Float32);
        Assert.True(s[nonzero].ge(ideal[nonzero]).all().item<bool>(), "a scale was rounded down");
        Assert.True(((s[nonzero] - ideal[nonzero]) / ideal[nonzero]).max().item<float>() <= Math.Pow(2, -6),
            "a scale is more than one bf16 step above (max - min) / MaxCode");
    }

    [Fact]
    public void Uint4WeightStorageIsAQuarterOfBf16PlusScalesAndZeroPoints()
    {
        TorchRuntime.EnsureLoaded();
        using var bf16 = new Flux2Transformer(TransformerConfig.Tiny, dtype: ScalarType.BFloat16);
        using var uint4 = new Flux2Transformer(TransformerConfig.Tiny, dtype: ScalarType.BFloat16,
            quant: QuantType.UInt4);
        static long Bytes(Tensor? t) => t is null ? 0 : t.numel() * t.element_size();
        var quantized = uint4.named_modules().Select(m => m.module).OfType<Linear>().Where(l => l.IsQuantized)
            .ToList();
        Assert.NotEmpty(quantized);
        long floatBytes = 0, codeBytes = 0, scaleBytes = 0, zeroBytes = 0, groups = 0;
        foreach (var l in quantized)
        {
            floatBytes += 2 * l.InFeatures * l.OutFeatures;
            codeBytes += Bytes(l.weight);
            scaleBytes += Bytes(l.weight_scale);
            zeroBytes += Bytes(l.weight_zero_point);
            groups += l.OutFeatures * (l.InFeatures / QuantType.UInt4.GroupOf(l.InFeatures));
            Assert.Equal(ScalarType.Byte, l.weight.dtype);
        }
        // Exactly: half a byte per weight, 2 bytes of bf16 scale and 1 byte of zero point per group.
        Assert.Equal(floatBytes / 4, codeBytes);
        Assert.Equal(2 * groups, scaleBytes);
        Assert.Equal(groups, zeroBytes);
        // The same layers of the bf16 model hold floatBytes.
        var names = uint4.named_modules().Where(m => m.module is Linear { IsQuantized: true }).Select(m => m.name)
            .ToHashSet();
        Assert.Equal(floatBytes, bf16.named_modules().Where(m => names.Contains(m.name))
            .Sum(m => Bytes(((Linear)m.module).weight)));
        long total = codeBytes + scaleBytes + zeroBytes;
        double share = (double)total / floatBytes, overhead = (double)(scaleBytes + zeroBytes) / codeBytes;
        output.WriteLine($"tiny transformer, {quantized.Count} uint4 Linears: codes {codeBytes} B + scales " +
            $"{scaleBytes} B + zero points {zeroBytes} B = {total} B vs bf16 {floatBytes} B ({share:P2}; {groups} " +
            $"groups, {overhead:P2} on top of the codes)");
        // FLUX.2-dev: every quantized Linear has groups of 64, so 0.5 + 3/64 bytes per weight, 27.3% of bf16.
        Assert.Equal(64L, QuantType.UInt4.GroupOf(6144));
    }

    [Fact]
    public void ALoraStepOverUint4BaseWeightsTrainsOnlyTheLora()
    {
        TorchRuntime.EnsureLoaded();
        var c = TransformerConfig.Tiny;
        using var model = new Flux2Transformer(c, quant: QuantType.UInt4);
        RandomInit.Apply(model, seed: 3);
        var baseBefore = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
        using var network = LoraNetwork.Attach(model, new NetworkConfig { Linear = 2 }, seed: 5);
        using (no_grad()) { manual_seed(11); foreach (var m in network.Modules) m.Up.normal_(0, 0.1); }
        Assert.Contains(network.Modules, m => m.Layer.Quant == QuantType.UInt4);
        using var optimizer = OptimizerFactory.Create(OptimizerType.Adamw, network.Parameters, 1e-3,
            new OptimizerParams());
        var loraBefore = network.Parameters.Select(p => p.detach().clone()).ToList();
        using (var scope = NewDisposeScope())
        {
            var g = new Generator(9);
            var v = model.Forward(randn(new[] { 1L, 16, c.InChannels }, generator: g),
                randn(new[] { 1L, 5, c.JointAttentionDim }, generator: g), tensor(new[] { 0.4f }),
                tensor(new[] { 1f }), PositionIds.Image(4, 4), PositionIds.Text(5));
            var loss = (v - randn(v.shape, generator: g)).pow(2).mean();
            model.Runner.Backward(loss);
            Assert.All(network.Parameters, p => Assert.True(p.grad is { } gr && gr.abs().sum().item<float>() > 0,
                "a LoRA tensor got no gradient"));
            Assert.All(model.named_parameters(), p =>
            {
                Assert.False(p.parameter.requires_grad, p.name);
                Assert.True(p.parameter.grad is null, $"{p.name} got a gradient");
            });
            optimizer.Step();
        }
        Assert.Contains(network.Parameters.Zip(loraBefore), x => !x.First.detach().eq(x.Second).all().item<bool>());
        foreach (var (name, p) in model.named_parameters())
            Assert.True(p.eq(baseBefore[name]).all().item<bool>(), $"{name} changed in a LoRA step");
        foreach (var t in baseBefore.Values.Concat(loraBefore)) t.Dispose();
    }
}
