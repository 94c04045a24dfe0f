using System.Text.Json.Nodes;
using Flux2.IO;
using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Quantization;
using Flux2.Training.Config;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Tests.Nn;

/// <summary>Weight-only 8-bit quantization of Linear layers: round trip, the quantized forward/backward, loading the
/// tiny fixture models quantized while loading, and the config/name errors.</summary>
public class QuantizationTests(ITestOutputHelper output)
{
    /// <summary>The 8-bit per-channel types.</summary>
    public static TheoryData<string> Types => new() { "qfloat8", "qint8" };
    /// <summary>Every layout: the 8-bit per-channel types and a grouped one.</summary>
    public static TheoryData<string> AllTypes => new() { "qfloat8", "qint8", "uint4" };

    static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64);
        var e = expected.to(ScalarType.Float64);
        return ((a - e).norm() / e.norm()).item<double>();
    }

    /// <summary>Rows of very different magnitudes (what per-channel scales are for) and one all-zero row.</summary>
    static Tensor TestWeight(long rows, long cols, long seed)
    {
        var g = new Generator((ulong)seed);
        var w = randn(new[] { rows, cols }, generator: g) * exp(randn(new[] { rows, 1L }, generator: g) * 2);
        w[3] = zeros(cols);
        return w;
    }

    [Theory]
    [InlineData("qfloat8"), InlineData("float8"), InlineData("fp8"), InlineData("qfloat8_e4m3fn"),
        InlineData("QFLOAT8")]
    public void Float8NamesParse(string name) => Assert.Same(QuantType.Float8, QuantType.Parse(name));

    [Theory]
    [InlineData("qint8"), InlineData("int8")]
    public void Int8NamesParse(string name) => Assert.Same(QuantType.Int8, QuantType.Parse(name));

    [Theory]
    [InlineData("qint4"), InlineData("uint1"), InlineData("nvfp4"), InlineData(""), InlineData(null)]
    public void UnsupportedQtypeListsTheSupportedOnes(string? name)
    {
        var e = Assert.Throws<ArgumentException>(() => QuantType.Parse(name));
        Assert.Contains($"unsupported qtype '{name}'", e.Message);
        Assert.Contains("qfloat8", e.Message);
        Assert.Contains("qint8", e.Message);
        Assert.Contains("fp8", e.Message);
        Assert.Contains("uint4", e.Message);
        Assert.Contains("uint2", e.Message);
    }

    [Fact]
    public void EveryYamlSpellingOfQtypeIsAQuantType()
    {
        foreach (var (name, value) in YamlNames.EnumNames(typeof(WeightQuantization)))
            Assert.Same(ModelConfigQuantization.ToQuantType((WeightQuantization)value), QuantType.Parse(name));
        Assert.Same(QuantType.Float8, ModelConfigQuantization.ToQuantType(WeightQuantization.Qfloat8));
        Assert.Same(QuantType.Int8, ModelConfigQuantization.ToQuantType(WeightQuantization.Qint8));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void PerChannelRoundTripStaysWithinTheFormatsRoundingBound(string qtype)
    {
        TorchRuntime.EnsureLoaded();
        var type = QuantType.Parse(qtype);
        using var scope = NewDisposeScope();
        var w = TestWeight(64, 256, seed: 1);
        var (q, scale, zero) = QuantizedWeight.Quantize(w, type);
        Assert.Null(zero);
        Assert.Equal(type.StorageType, q.dtype);
        Assert.Equal(ScalarType.Float32, scale.dtype);
        Assert.Equal(new long[] { 64 }, scale.shape);
        var back = QuantizedWeight.FloatCopy(type, q, scale, null, ScalarType.Float32);

        // scale = row absmax / MaxCode rounded to a bf16 number (2^-8 relative at most); a zero row keeps scale 1 and
        // comes back as zeros.
        var absmax = w.abs().amax(new long[] { 1 });
        Assert.Equal(1f, scale[3].item<float>());
        Assert.Equal(0f, back[3].abs().max().item<float>());
        var nonzero = absmax.gt(0);
        var ideal = absmax[nonzero] / type.MaxCode;
        Assert.True(((scale[nonzero] - ideal).abs() / ideal).max().item<float>() <= Math.Pow(2, -8) * (1 + 1e-6),
            "scale too far from absmax / MaxCode");
        Assert.True(scale.to(ScalarType.BFloat16).to(ScalarType.Float32).eq(scale).all().item<bool>(),
            "a scale is not a bf16 number");

        // Elementwise bound: int8 rounds to the nearest of evenly spaced codes (half a step = scale/2); e4m3 rounds to
        // 3 mantissa bits (relative half-ulp 2^-4) down to its subnormal spacing 2^-9 (absolute half-spacing 2^-10).
        var err = (back - w).abs();
        var s = scale.unsqueeze(1);
        var bound = type == QuantType.Int8 ? s * 0.5 : w.abs() / 16 + s * Math.Pow(2, -10);
        Assert.True(err.le(bound * (1 + 1e-5) + 1e-12).all().item<bool>(),
            $"{qtype}: an element exceeds its rounding bound");

        var rowErrors = (back - w).norm(1, true) / w.norm(1, true).clamp_min(1e-30);
        var meanRel = rowErrors[nonzero].mean().item<float>();
        var maxRel = rowErrors[nonzero].max().item<float>();
        output.WriteLine($"{qtype}: per-row relative round-trip error mean {meanRel:P2}, max {maxRel:P2}");
        Assert.True(maxRel < (type == QuantType.Int8 ? 0.01 : 0.03), $"{qtype} row error {maxRel}");
        Assert.True(meanRel > 1e-4, "the round trip is expected to lose something: is the weight really quantized?");
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void QuantizedLinearForwardMatchesTheDequantizedAndTheFloatLayer(string qtype)
    {
        TorchRuntime.EnsureLoaded();
        var type = QuantType.Parse(qtype);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = TestWeight(48, 96, seed: 2);
        var b = randn(48, generator: new Generator(3));
        var x = randn(new[] { 2L, 7, 96 }, generator: new Generator(4));
        using var lin = QuantizedLayer(w, b, type, ScalarType.Float32);

        var y = lin.forward(x);
        var yDeq = nn.functional.linear(x, lin.FloatWeightCopy(), b);
        var yFloat = nn.functional.linear(x, w, b);
        var vsDeq = RelativeError(y, yDeq);
        var vsFloat = RelativeError(y, yFloat);

        // bf16 activations: the codes convert to bf16 exactly; the bf16 matmul adds its own rounding.
        using var lin16 = QuantizedLayer(w, b, type, ScalarType.BFloat16);
        var vsFloat16 = RelativeError(lin16.forward(x.to(ScalarType.BFloat16)), yFloat);
        output.WriteLine($"{qtype} Linear: rel. error vs dequantized {vsDeq:E2}, vs fp32 layer {vsFloat:P2}, bf16 " +
            $"activations vs fp32 layer {vsFloat16:P2}");
        Assert.True(vsDeq < 1e-6, $"vs dequantized {vsDeq}");
        Assert.True(vsFloat < 0.03 && vsFloat > 1e-5, $"vs float {vsFloat}");
        Assert.True(vsFloat16 < 0.03, $"bf16 vs float {vsFloat16}");
    }

    static Linear QuantizedLayer(Tensor w, Tensor? b, QuantType type, ScalarType dtype)
    {
        var lin = new Linear(w.shape[1], w.shape[0], hasBias: b is not null, dtype: dtype, quant: type);
        using var _ = no_grad();
        lin.QuantizeFrom(w);
        if (b is not null) lin.bias!.copy_(b);
        return lin;
    }

    /// <summary>x → L1 (quantized, LoRA) → tanh → L2 (quantized, LoRA) → loss, in fp64: the LoRA gradients of
    /// L1 flow back through L2's quantized base, i.e. through the custom function's grad_x.</summary>
    sealed class TwoLayers : IDisposable
    {
        public readonly Linear L1, L2;
        public readonly LoraAdapter A1, A2;
        public TwoLayers(Linear l1, Linear l2, long seed)
        {
            (L1, L2) = (l1, l2);
            var g = new Generator((ulong)seed);
            Tensor P(long r, long c) => (randn(new[] { r, c }, ScalarType.Float64, generator: g) * 0.3)
                .requires_grad_(true);
            A1 = new LoraAdapter(P(3, l1.InFeatures), P(l1.OutFeatures, 3), 0.7);
            A2 = new LoraAdapter(P(2, l2.InFeatures), P(l2.OutFeatures, 2), 1.3);
            L1.Adapters.Add(A1);
            L2.Adapters.Add(A2);
        }
        public Tensor Loss(Tensor x) => L2.forward(L1.forward(x).tanh()).pow(2).sum();
        public Tensor[] Params => new[] { A1.Down, A1.Up, A2.Down, A2.Up };
        public void Dispose() { L1.Dispose(); L2.Dispose(); }
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void LoraGradientsThroughAQuantizedBaseMatchTheDequantizedReferenceAndFiniteDifferences(string qtype)
    {
        TorchRuntime.EnsureLoaded();
        var type = QuantType.Parse(qtype);
        using var scope = NewDisposeScope();
        var w1 = TestWeight(24, 16, seed: 5).to(ScalarType.Float64);
        var w2 = TestWeight(8, 24, seed: 6).to(ScalarType.Float64);
        var x = randn(new[] { 4L, 16 }, ScalarType.Float64, generator: new Generator(7));

        using var quant = new TwoLayers(QuantizedLayer(w1, null, type, ScalarType.Float64),
            QuantizedLayer(w2, null, type, ScalarType.Float64), seed: 8);
        // Reference: plain float layers holding exactly the dequantized weights, same adapters' values.
        using var reference = new TwoLayers(FloatLayer(quant.L1.FloatWeightCopy()),
                                            FloatLayer(quant.L2.FloatWeightCopy()), seed: 8);

        var lossQ = quant.Loss(x);
        var gradsQ = autograd.grad(new[] { lossQ }, quant.Params);
        var lossR = reference.Loss(x);
        var gradsR = autograd.grad(new[] { lossR }, reference.Params);
        Assert.True(Math.Abs(lossQ.item<double>() / lossR.item<double>() - 1) < 1e-12,
            $"loss {lossQ.item<double>()} vs reference {lossR.item<double>()}");
        for (int i = 0; i < gradsQ.Count; i++)
        {
            var rel = RelativeError(gradsQ[i], gradsR[i]);
            output.WriteLine($"{qtype}: LoRA grad {i} rel. difference vs dequantized-weight autograd {rel:E2}");
            Assert.True(rel < 1e-10, $"grad {i}: {rel}");
        }

        // Central finite differences on a few entries of L1's lora_A (its gradient crosses L2's quantized base).
        using (no_grad())
        {
            var p = quant.A1.Down;
            foreach (var (r, c) in new[] { (0, 0), (1, 5), (2, 15) })
            {
                const double h = 1e-6;
                var old = p[r, c].item<double>();
                p[r, c] = old + h; var up = quant.Loss(x).item<double>();
                p[r, c] = old - h; var down = quant.Loss(x).item<double>();
                p[r, c] = old;
                var fd = (up - down) / (2 * h);
                var an = gradsQ[0][r, c].item<double>();
                Assert.True(Math.Abs(fd - an) <= 1e-5 * Math.Max(1, Math.Abs(fd)),
                    $"d loss / d A1[{r},{c}]: autograd {an}, finite differences {fd}");
            }
        }

        // Under no_grad the layer computes directly (no graph): same values.
        using (no_grad())
        {
            var direct = quant.L2.forward(quant.L1.forward(x).tanh());
            Assert.False(direct.requires_grad);
            Assert.Equal(0.0, (direct - quant.L2.forward(quant.L1.forward(x).tanh()).detach()).abs().max()
                .item<double>());
        }
        using (enable_grad())
        {
            var tracked = quant.L2.forward(quant.L1.forward(x).tanh());
            Assert.True(tracked.requires_grad);
        }
    }

    static Linear FloatLayer(Tensor w)
    {
        var lin = new Linear(w.shape[1], w.shape[0], dtype: w.dtype);
        using (no_grad()) lin.weight.copy_(w);
        return lin;
    }

    [Fact]
    public void QuantizedStorageIsBuiltDirectlyAndRegisteredWithoutGradients()
    {
        TorchRuntime.EnsureLoaded();
        using var model =
            new Flux2Transformer(TransformerConfig.Tiny, dtype: ScalarType.BFloat16, quant: QuantType.Float8);
        var linears = model.named_modules().Where(m => m.module is Linear).Select(m => (m.name, lin: (Linear)m.module))
            .ToList();
        foreach (var (name, lin) in linears)
        {
            // The latent's first and last maps and the conditioning path (shared modulations, embedders, final adaLN).
            bool keptFloat = name is "x_embedder" or "proj_out" || name.StartsWith("time_guidance_embed.")
                || name.Contains("_modulation") || name.StartsWith("norm_out.");
            Assert.Equal(keptFloat ? ScalarType.BFloat16 : QuantType.Float8.StorageType, lin.weight.dtype);
            Assert.Equal(!keptFloat, lin.IsQuantized);
            if (!keptFloat) Assert.Equal(ScalarType.Float32, lin.weight_scale!.dtype);
        }
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Contains("transformer_blocks.0.attn.to_q.weight_scale", parameters.Keys);
        Assert.Contains("single_transformer_blocks.1.attn.to_qkv_mlp_proj.weight_scale", parameters.Keys);
        Assert.Contains("context_embedder.weight_scale", parameters.Keys);
        Assert.DoesNotContain("time_guidance_embed.timestep_embedder.linear_1.weight_scale", parameters.Keys);
        Assert.DoesNotContain("double_stream_modulation_img.linear.weight_scale", parameters.Keys);
        Assert.DoesNotContain("x_embedder.weight_scale", parameters.Keys);
        Assert.All(parameters.Values, p => Assert.False(p.requires_grad));
        // Every Linear weight but those kept in bf16 takes one byte per element.
        long linearBytes = linears.Sum(l => l.lin.weight.numel() * l.lin.weight.element_size());
        long quantizedElements = linears.Where(l => l.lin.IsQuantized).Sum(l => l.lin.weight.numel());
        long floatElements = linears.Where(l => !l.lin.IsQuantized).Sum(l => l.lin.weight.numel());
        Assert.Equal(quantizedElements + 2 * floatElements, linearBytes);
    }

    /// <summary>Records reads and checks, at each one, that every quantized weight read before it is already quantized
    /// in the model: weights are quantized one tensor at a time, as they arrive.</summary>
    sealed class RecordingSource(ITensorSource inner, Func<string, Linear?> quantizedLayerOf) : ITensorSource
    {
        public List<(string Key, ScalarType? Requested, ScalarType Got)> Reads { get; } = new();
        public string Origin => inner.Origin;
        public IReadOnlyCollection<string> Keys => inner.Keys;
        public long[] Shape(string key) => inner.Shape(key);
        public string FileOf(string key) => inner.FileOf(key);
        public Tensor Read(string key, Device? device = null, ScalarType? dtype = null)
        {
            foreach (var earlier in Reads.Select(r => quantizedLayerOf(r.Key)).OfType<Linear>())
                Assert.False(earlier.weight_scale!.eq(1).all().item<bool>()
                    && earlier.weight.to(ScalarType.Float32).abs().sum().item<float>() == 0,
                             $"a weight read before '{key}' is not quantized yet");
            var t = inner.Read(key, device, dtype);
            Reads.Add((key, dtype, t.dtype));
            return t;
        }
        public void Dispose() => inner.Dispose();
    }

    /// <summary>Output error bounds on the tiny fixture transformer: 3% for the 8-bit types (fp8 measured 1.41%,
    /// int8 0.33%); uint4 (16 codes per group of 16-64 weights) measured 5.50%, bounded at 8%.</summary>
    static double TinyTransformerBound(QuantType type) => type.IsGrouped ? 0.08 : 0.03;

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void TinyTransformerQuantizedWhileLoadingStaysWithinItsBound(string qtype)
    {
        TorchRuntime.EnsureLoaded();
        var type = QuantType.Parse(qtype);
        var folder = Path.Combine(TestPaths.Tiny, "transformer");
        using var reference = Flux2TransformerFiles.FromFolder(folder);
        var config = TransformerConfig.FromJson(Path.Combine(folder, "config.json"));
        using var model = new Flux2Transformer(config, quant: type);
        using (no_grad()) foreach (var (_, m) in model.named_modules()) if (m is Linear { IsQuantized: true } l)
            l.weight.zero_();
        Linear? QuantizedLayerOf(string key) =>
            key.EndsWith(".weight") && model.named_modules().FirstOrDefault(m => m.name == key[..^7]).module
                is Linear { IsQuantized: true } l ? l : null;
        using (var source = new RecordingSource(TransformerCheckpoint.Open(folder), QuantizedLayerOf))
        {
            ModuleLoader.Load(model, source);
            var quantizedReads = source.Reads.Where(r => QuantizedLayerOf(r.Key) is not null).ToList();
            Assert.Equal(model.named_modules().Count(m => m.module is Linear { IsQuantized: true }),
                quantizedReads.Count);
            Assert.Equal(quantizedReads.Count, quantizedReads.Select(r => r.Key).Distinct().Count());
            // Read in the file's float dtype (not cast to the 8-bit storage type), then quantized.
            Assert.All(quantizedReads, r =>
            {
                Assert.Null(r.Requested);
                Assert.True(r.Got is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16,
                    $"{r.Key}: {r.Got}");
            });
        }

        using var y = RunTinyTransformer(reference);
        using var yq = RunTinyTransformer(model);
        using var viaFromFolder = RunTinyTransformer(Flux2TransformerFiles.FromFolder(folder, quant: type));
        var rel = RelativeError(yq, y);
        output.WriteLine($"tiny transformer (fixture), {qtype} while loading: " +
            $"output relative error ||y_q - y|| / ||y|| = {rel:P3}");
        Assert.True(rel <= TinyTransformerBound(type), $"{qtype} relative error {rel}");
        Assert.True(rel > 1e-6, "quantized output identical to the float one: was anything quantized?");
        Assert.Equal(0f, (viaFromFolder - yq).abs().max().item<float>());
    }

    /// <summary>The fixture transformer's output on its recorded inputs (activations in the model's dtype), in
    /// fp32.</summary>
    static Tensor RunTinyTransformer(Flux2Transformer m)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "transformer_io.safetensors"));
        var dtype = m.x_embedder.weight.dtype;
        Tensor In(string key) => io.Read(key).to(dtype);
        return m.Forward(In("hidden_states"), In("encoder_hidden_states"), In("timestep"), In("guidance"),
                         io.Read("img_ids"), io.Read("txt_ids")).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    [Fact]
    public void TinyTransformerErrorGrowsAsTheBitsShrinkAndUint4LiesBeyondFp8()
    {
        TorchRuntime.EnsureLoaded();
        var folder = Path.Combine(TestPaths.Tiny, "transformer");
        using var y32 = RunTinyTransformer(Flux2TransformerFiles.FromFolder(folder));
        using var y16 = RunTinyTransformer(Flux2TransformerFiles.FromFolder(folder, dtype: ScalarType.BFloat16));
        output.WriteLine($"tiny transformer, bf16 weights and activations: {RelativeError(y16, y32):P3} vs fp32");
        var errors = new Dictionary<string, (double Vs32, double Vs16)>();
        var names = new[] { "qfloat8", "qint8", "uint8", "uint7", "uint6", "uint5", "uint4", "uint3", "uint2" };
        foreach (var name in names)
        {
            var type = QuantType.Parse(name);
            using var q32 = RunTinyTransformer(Flux2TransformerFiles.FromFolder(folder, quant: type));
            using var q16 = RunTinyTransformer(
                Flux2TransformerFiles.FromFolder(folder, dtype: ScalarType.BFloat16, quant: type));
            errors[name] = (RelativeError(q32, y32), RelativeError(q16, y16));
            output.WriteLine($"tiny transformer, {name} weights: output relative error {errors[name].Vs32:P3} vs " +
                $"fp32 (fp32 activations), {errors[name].Vs16:P3} vs the bf16 model (bf16 activations)");
        }
        Assert.True(errors["uint4"].Vs32 > errors["qfloat8"].Vs32, "uint4 is expected to lose more than fp8");
        Assert.True(errors["uint4"].Vs16 > errors["qfloat8"].Vs16, "uint4 is expected to lose more than fp8 (bf16)");
        Assert.True(errors["uint4"].Vs32 <= TinyTransformerBound(QuantType.UInt4), $"uint4 {errors["uint4"].Vs32}");
        // Each bit less about doubles the step: uint8 > ... > uint2 in error, by a clear margin.
        for (int bits = 8; bits > 2; bits--)
            Assert.True(errors[$"uint{bits - 1}"].Vs32 > 1.3 * errors[$"uint{bits}"].Vs32,
                $"uint{bits - 1} {errors[$"uint{bits - 1}"].Vs32} vs uint{bits} {errors[$"uint{bits}"].Vs32}");
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void TinyTextEncoderQuantizedWhileLoadingStaysWithin3Percent(string qtype)
    {
        TorchRuntime.EnsureLoaded();
        var type = QuantType.Parse(qtype);
        var outLayers = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.Tiny,
            "fixture.json")))!["te_out_layers"]!.AsArray()
                                .Select(n => n!.GetValue<int>()).ToArray();
        var folder = Path.Combine(TestPaths.Tiny, "text_encoder");
        using var reference = Flux2PromptEncoder.FromFolder(folder, outLayers);
        using var quantized = Flux2PromptEncoder.FromFolder(folder, outLayers, quant: type);
        foreach (var (name, m) in quantized.Model.named_modules())
            if (m is Linear lin)
            {
                Assert.True(lin.IsQuantized, name);
                Assert.Equal(type.StorageType, lin.weight.dtype);
            }
        Assert.Equal(ScalarType.Float32, quantized.Model.embed_tokens.weight!.dtype);

        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "text_encoder_io.safetensors"));
        using var ids = io.Read("input_ids");
        using var mask = io.Read("attention_mask");
        using var y = reference.Encode(ids, mask);
        using var yq = quantized.Encode(ids, mask);
        var rel = RelativeError(yq, y);
        output.WriteLine($"tiny Mistral text encoder (fixture), {qtype} while loading: " +
            $"prompt_embeds relative error {rel:P3}");
        // int8 meets the 3% output target. e4m3 keeps 3 mantissa bits whatever the scale (≈2.6% rms per weight, see
        // the round-trip test), and the fixture encoder (hidden 16, head_dim 4, three layers feeding the output
        // directly) has no width to average it out: measured 4.8%, bounded at 6% so a regression still fails.
        Assert.True(rel <= (type == QuantType.Int8 ? 0.03 : 0.06), $"{qtype} relative error {rel}");
        Assert.True(rel > 1e-6, "quantized output identical to the float one: was anything quantized?");
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void RandomInitQuantizesLayerByLayerAndTrainsLora(string qtype)
    {
        TorchRuntime.EnsureLoaded();
        var type = QuantType.Parse(qtype);
        using var model = new Flux2Transformer(TransformerConfig.Tiny, quant: type);
        RandomInit.Apply(model, seed: 3);
        var lin = model.transformer_blocks[0].attn.to_q;
        Assert.Equal(type.StorageType, lin.weight.dtype);
        Assert.False(lin.weight_scale!.eq(1).all().item<bool>(), "scales were not computed");
        // The random weight ~ N(0, 1/in): the dequantized weight has about that spread.
        using var w = lin.FloatWeightCopy();
        var std = w.std().item<float>();
        Assert.InRange(std, 0.8 / Math.Sqrt(lin.InFeatures), 1.2 / Math.Sqrt(lin.InFeatures));

        // A LoRA step's gradient reaches every adapter through the quantized bases.
        using var scope = NewDisposeScope();
        var c = TransformerConfig.Tiny;
        var adapters = new List<LoraAdapter>();
        foreach (var (_, m) in model.named_modules())
            if (m is Linear { IsQuantized: true } l && l.InFeatures == c.InnerDim && l.OutFeatures == c.InnerDim)
            {
                var a = new LoraAdapter((randn(2, l.InFeatures) * 0.1).requires_grad_(true),
                    (randn(l.OutFeatures, 2) * 0.1).requires_grad_(true), 1.0);
                l.Adapters.Add(a);
                adapters.Add(a);
            }
        var g = new Generator(9);
        var loss = model.Forward(randn(new[] { 1L, 4, c.InChannels }, generator: g),
                                 randn(new[] { 1L, 3, c.JointAttentionDim }, generator: g), tensor(new[] { 0.5f }),
                                 tensor(new[] { 3.5f }), zeros(4, 4), zeros(3, 4)).pow(2)
                                     .mean();
        loss.backward();
        Assert.All(adapters, a => Assert.True(a.Down.grad is { } gr && gr.abs().sum().item<float>() > 0));
    }

    [Fact]
    public void QuantizeKeysAreReadFromYamlAndATypoReportsItsPosition()
    {
        var good = JobConfigReader.Parse(
            Job("quantize: true\n      qtype: int8\n      quantize_te: true\n      qtype_te: fp8"), "q.yaml")
            .Job.Process.Model;
        Assert.True(good.Quantize);
        Assert.Equal(WeightQuantization.Qint8, good.Qtype);
        var q = good.Quantization();
        Assert.Same(QuantType.Int8, q.Transformer);
        Assert.Same(QuantType.Float8, q.TextEncoder);
        // quantize_te unset follows quantize (ai-toolkit's code default).
        var follows = JobConfigReader.Parse(Job("quantize: true"), "q.yaml").Job.Process.Model.Quantization();
        Assert.Same(QuantType.Float8, follows.TextEncoder);
        Assert.False(JobConfigReader.Parse(Job("quantize: false"), "q.yaml").Job.Process.Model.Quantization().Any);

        var e =
            Assert.Throws<JobConfigException>(() => JobConfigReader.Parse(Job("quantize: true\n      qtype: qflaot8"),
                "typo.yaml"));
        output.WriteLine(e.Message);
        Assert.StartsWith("typo.yaml:9:16: ", e.Message);
        Assert.Contains("qtype", e.Message);
        Assert.Contains("qfloat8", e.Message);
        var four =
            Assert.Throws<JobConfigException>(() => JobConfigReader.Parse(Job("quantize: true\n      qtype: qint4"),
                "four.yaml"));
        output.WriteLine(four.Message);
        Assert.StartsWith("four.yaml:9:16: ", four.Message);
        Assert.Contains("qint8", four.Message);
        Assert.Contains("uint4", four.Message);

        // uint4 (ai-toolkit's "4 bit"), for the transformer and the text encoder.
        var uint4 = JobConfigReader.Parse(Job("quantize: true\n      qtype: uint4\n      qtype_te: uint4"), "u.yaml")
            .Job.Process.Model;
        Assert.Equal(WeightQuantization.Uint4, uint4.Qtype);
        Assert.Same(QuantType.UInt4, uint4.Quantization().Transformer);
        Assert.Same(QuantType.UInt4, uint4.Quantization().TextEncoder);
    }

    static string Job(string modelKeys) => $"""
        job: extension
        config:
          name: q
          process:
            - type: sd_trainer
              model:
                name_or_path: tiny-random
                {modelKeys.Replace("\n      ", "\n        ")}
              datasets:
                - folder_path: /tmp/data
        """;
}
