using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Quantization;
using Flux2.Pipeline;
using Flux2.Tests.Training;
using Flux2.Training.Config;
using Flux2.Training.Network;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Tests.Nn;

/// <summary>
/// The quantized Linear's backward (memory tier B speed): grad_x = (grad_y · scale) · q.to(dtype) against a float64
/// reference; inside a checkpoint recompute the forward's widened codes serve the backward (no second widening),
/// outside one nothing but q and scale is kept; a second backward over the same graph still works; checkpointed and
/// plain LoRA gradients through a quantized tiny transformer are identical bit for bit; training steps leave no tensors
/// behind.
/// </summary>
[Collection(TorchGlobalRngCollection.Name)] // RandomInit and LoRA initialisation use libtorch's global generator
public class QuantizedLinearBackwardTests(ITestOutputHelper output)
{
    public static TheoryData<string, ScalarType> TypesAndDtypes => new()
    {
        { "qfloat8", ScalarType.Float32 }, { "qfloat8", ScalarType.BFloat16 }, { "qfloat8", ScalarType.Float64 },
        { "qint8", ScalarType.Float32 }, { "qint8", ScalarType.BFloat16 }, { "qint8", ScalarType.Float64 },
        { "uint4", ScalarType.Float32 }, { "uint4", ScalarType.BFloat16 }, { "uint4", ScalarType.Float64 },
    };

    static long Widenings => QuantizedLinearFunction.WideningsOnThisThread;

    /// <summary>Same dtype, shape and values.</summary>
    static bool Identical(Tensor a, Tensor b) => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape)
        && a.eq(b).all().item<bool>();

    /// <summary>A quantized [out, in] layer holding a weight with rows of very different magnitudes.</summary>
    static Linear QuantizedLayer(long inFeatures, long outFeatures, QuantType type, ScalarType dtype, ulong seed)
    {
        var g = new Generator(seed);
        using var w = randn(new[] { outFeatures, inFeatures }, generator: g) *
            exp(randn(new[] { outFeatures, 1L }, generator: g) * 2);
        var lin = new Linear(inFeatures, outFeatures, dtype: dtype, quant: type);
        lin.QuantizeFrom(w);
        return lin;
    }

    [Theory]
    [MemberData(nameof(TypesAndDtypes))]
    public void InputGradientMatchesTheFloat64Reference(string qtype, ScalarType dtype)
    {
        TorchRuntime.EnsureLoaded();
        var type = QuantType.Parse(qtype);
        using var scope = NewDisposeScope();
        using var lin = QuantizedLayer(96, 48, type, dtype, seed: 21);
        var g = new Generator(22);
        var x = randn(new[] { 2L, 7, 96 }, generator: g).to(dtype).requires_grad_(true);
        var gradY = randn(new[] { 2L, 7, 48 }, generator: g).to(dtype);

        lin.forward(x).backward(new[] { gradY });
        var reference = gradY.to(ScalarType.Float64).matmul(lin.FloatWeightCopy(ScalarType.Float64));
        var rel = ((x.grad!.to(ScalarType.Float64) - reference).norm() / reference.norm()).item<double>();
        output.WriteLine($"{qtype} {dtype}: grad_x relative error vs float64 (grad_y · dequantized W) {rel:E2}");
        // fp64: rounding only; fp32: the fp32 product and matmul (~1e-7); bf16: the product rounded once to bf16 and
        // the bf16 matmul's output rounding (at most 2^-8 relative each, ~2e-3 rms together; uint4: the dequantized
        // weight rounded to bf16 instead of the product).
        double bound = dtype switch { ScalarType.Float64 => 1e-13, ScalarType.Float32 => 1e-6, _ => 4e-3 };
        Assert.True(rel < bound, $"{qtype} {dtype}: grad_x off by {rel:E2} (bound {bound:E0})");

        if (dtype == ScalarType.BFloat16 && type.IsGrouped)
            Assert.True(Identical(x.grad!, gradY.matmul(lin.FloatWeightCopy(dtype))),
                "bf16 grad_x is not grad_y · (the dequantized weight in bf16)");
        if (dtype == ScalarType.BFloat16 && !type.IsGrouped)
        {
            // The one-pass bf16 product equals grad_y scaled by the fp32 scale and rounded once (a copy scaled in
            // place): it relies on QuantizedWeight's scales being bf16 numbers.
            var roundedOnce = gradY.clone().mul_(lin.weight_scale!);
            var expected = roundedOnce.matmul(lin.weight.to(dtype));
            Assert.True(Identical(x.grad!, expected), "bf16 grad_x is not (grad_y · fp32 scale, rounded once) · q");
        }
    }

    /// <summary>block(x) = L2(tanh(L1(x))) with LoRA on both quantized layers, run through
    /// <see cref="GradientCheckpoint"/> or plainly, recording how many widenings happen inside the recompute's
    /// forward.</summary>
    sealed class TwoQuantizedLayers : IDisposable
    {
        public readonly Linear L1, L2;
        public readonly Tensor[] Lora;
        public long WideningsInRecomputeForward;
        public readonly CheckpointSession Session = new();

        /// <summary>What a block runner hands a checkpointed block: its layers are told when they are
        /// recomputed.</summary>
        public CheckpointHooks Hooks => new() { DuringRecompute = () => BlockRunner.Recomputing([L1, L2], Session) };

        public TwoQuantizedLayers(QuantType type)
        {
            L1 = QuantizedLayer(16, 24, type, ScalarType.Float32, seed: 31);
            L2 = QuantizedLayer(24, 8, type, ScalarType.Float32, seed: 32);
            var g = new Generator(33);
            Tensor P(long r, long c) => (randn(new[] { r, c }, generator: g) * 0.3).requires_grad_(true);
            L1.Adapters.Add(new LoraAdapter(P(3, 16), P(24, 3), 0.7));
            L2.Adapters.Add(new LoraAdapter(P(2, 24), P(8, 2), 1.3));
            Lora = L1.Adapters.Concat(L2.Adapters).Cast<LoraAdapter>()
                .SelectMany(a => new[] { a.Down, a.Up }).ToArray();
        }

        Tensor[] Block(Tensor[] t)
        {
            long before = Widenings;
            var y = L2.forward(L1.forward(t[0]).tanh());
            if (L1.Recompute is not null) WideningsInRecomputeForward += Widenings - before;
            return new[] { y };
        }

        /// <summary>Gradients of sum(block(x)²) for the LoRA tensors and x; the widenings of the backward pass itself
        /// (the recompute's forward not counted).</summary>
        public (Tensor[] Grads, long BackwardWidenings) Gradients(Tensor x, bool checkpointing)
        {
            foreach (var p in Lora.Append(x)) p.grad = null;
            WideningsInRecomputeForward = 0;
            using (var scope = NewDisposeScope())
            {
                var y = checkpointing ? GradientCheckpoint.Run(Block, new[] { x }, Session, Hooks)[0]
                                      : Block(new[] { x })[0];
                var loss = y.pow(2).sum();
                long before = Widenings;
                Session.Backward(loss);
                long backward = Widenings - before - WideningsInRecomputeForward;
                return (Lora.Append(x).Select(p => p.grad!.clone().DetachFromDisposeScope()).ToArray(), backward);
            }
        }

        public void Dispose() { L1.Dispose(); L2.Dispose(); foreach (var p in Lora) p.Dispose(); }
    }

    [Theory]
    [InlineData("qfloat8"), InlineData("qint8"), InlineData("uint4")]
    public void TheRecomputeKeepsItsWidenedWeightsForTheBackwardAndAPlainForwardDoesNot(string qtype)
    {
        TorchRuntime.EnsureLoaded();
        using var layers = new TwoQuantizedLayers(QuantType.Parse(qtype));
        using var x = randn(new[] { 5L, 16 }, generator: new Generator(34)).requires_grad_(true);

        var (plain, plainBackward) = layers.Gradients(x, checkpointing: false);
        Assert.Equal(2, plainBackward); // each layer widens its codes again: nothing but q and scale was kept
        Assert.Equal(0, layers.WideningsInRecomputeForward);

        var (checkpointed, checkpointedBackward) = layers.Gradients(x, checkpointing: true);
        Assert.Equal(2, layers.WideningsInRecomputeForward);
        Assert.Equal(0, checkpointedBackward); // both layers' backward used the recompute's widened codes
        Assert.Null(layers.L1.Recompute);
        output.WriteLine($"{qtype}: backward widenings plain {plainBackward}, checkpointed {checkpointedBackward} " +
            $"(+{layers.WideningsInRecomputeForward} in the recompute's forward)");
        for (int i = 0; i < plain.Length; i++)
            Assert.True(Identical(plain[i], checkpointed[i]),
                $"gradient {i} differs between the plain and the checkpointed backward");
        foreach (var t in plain.Concat(checkpointed)) t.Dispose();
    }

    [Fact]
    public void ASecondBackwardOverTheSameGraphWidensAgain()
    {
        TorchRuntime.EnsureLoaded();
        using var layers = new TwoQuantizedLayers(QuantType.Float8);
        using var x = randn(new[] { 5L, 16 }, generator: new Generator(35)).requires_grad_(true);
        var (once, _) = layers.Gradients(x, checkpointing: true);

        // Plain graph, retain_graph: the second backward widens again and adds the same gradients.
        foreach (var p in layers.Lora.Append(x)) p.grad = null;
        using (var scope = NewDisposeScope())
        {
            var loss = layers.L2.forward(layers.L1.forward(x).tanh()).pow(2).sum();
            loss.backward(retain_graph: true);
            long before = Widenings;
            loss.backward();
            Assert.Equal(2, Widenings - before);
        }
        var all = layers.Lora.Append(x).ToArray();
        for (int i = 0; i < all.Length; i++)
            Assert.True(Identical(all[i].grad!, once[i] * 2),
                $"retain_graph: gradient {i} is not twice the single backward's");

        // Inside a recompute: a first backward through the block's graph (retained) takes the kept codes; the
        // recompute's own backward then finds them gone and widens again — same gradients as without the extra pass.
        long extraPassWidenings = -1;
        try
        {
            Tensor[] Twice(Tensor[] t)
            {
                var y = layers.L2.forward(layers.L1.forward(t[0]).tanh());
                if (layers.L1.Recompute is not null)
                {
                    long before = Widenings;
                    using var g = autograd.grad(new[] { y.pow(2).sum() }, new[] { t[0] }, retain_graph: true)[0];
                    extraPassWidenings = Widenings - before;
                }
                return new[] { y };
            }
            foreach (var p in all) p.grad = null;
            long start = Widenings;
            using (var scope = NewDisposeScope())
            {
                var y = GradientCheckpoint.Run(Twice, new[] { x }, layers.Session, layers.Hooks)[0];
                layers.Session.Backward(y.pow(2).sum());
            }
            Assert.Equal(0, extraPassWidenings);            // the first backward used the kept codes
            Assert.Equal(2 + 2 + 2,
                Widenings - start);     // forward, recompute, and the second backward widening again
            for (int i = 0; i < all.Length; i++)
                Assert.True(Identical(all[i].grad!, once[i]),
                    $"recompute with a second backward: gradient {i} differs");
        }
        finally { foreach (var t in once) t.Dispose(); }
    }

    /// <summary>A seeded tiny transformer, quantized, with a LoRA (blocks only, dropout on) whose up matrices are
    /// random.</summary>
    sealed class QuantizedRig : IDisposable
    {
        public readonly Flux2Transformer Model;
        public readonly LoraNetwork Network;
        readonly Tensor hidden, context, t, g, imgIds, txtIds, target;

        public QuantizedRig(QuantType type, ScalarType dtype)
        {
            TorchRuntime.EnsureLoaded();
            var c = TransformerConfig.ByName("tiny");
            Model = new Flux2Transformer(c, dtype: dtype, quant: type);
            RandomInit.Apply(Model, seed: 3);
            Network = LoraNetwork.Attach(Model, new NetworkConfig { Linear = 2, Dropout = 0.25 }, seed: 5);
            using (no_grad()) { manual_seed(11); foreach (var m in Network.Modules) m.Up.normal_(0, 0.1); }
            manual_seed(13);
            hidden = randn(1, 16, c.InChannels).to(dtype);
            context = randn(1, 5, c.JointAttentionDim).to(dtype);
            target = randn(1, 16, c.OutChannels).to(dtype);
            t = tensor(new[] { 0.4f }).to(dtype);
            g = tensor(new[] { 1f }).to(dtype);
            imgIds = PositionIds.Image(4, 4);
            txtIds = PositionIds.Text(5);
        }

        /// <summary>One training step; the widenings of its forward and of its backward pass.</summary>
        public (long Forward, long Backward) Step(bool checkpointing)
        {
            Model.Runner.Checkpointing = checkpointing;
            foreach (var p in Network.Parameters) p.grad = null;
            using var scope = NewDisposeScope();
            long start = Widenings;
            var v = Model.Forward(hidden, context, t, g, imgIds, txtIds);
            long forward = Widenings - start;
            Model.Runner.Backward((v - target).to(ScalarType.Float32).pow(2).mean());
            return (forward, Widenings - start - forward);
        }

        /// <summary>Quantized layers outside the blocks (embedders, modulations, final norm): run once per forward,
        /// never checkpointed, and their inputs need no gradient (LoRA sits in the blocks only).</summary>
        public int QuantizedLayersOutsideBlocks => Model.named_modules()
            .Count(m => m.module is Linear { IsQuantized: true }
            && !m.name.StartsWith("transformer_blocks.") && !m.name.StartsWith("single_transformer_blocks."));

        /// <summary>One step from the given dropout generator state; copies of the LoRA gradients.</summary>
        public (Tensor[] Grads, long ForwardWidenings, long BackwardWidenings)
            Gradients(bool checkpointing, byte[] dropoutState)
        {
            using (var s = tensor(dropoutState)) Network.DropoutGenerator.set_state(s);
            var (forward, backward) = Step(checkpointing);
            return (Network.Parameters.Select(p => p.grad!.clone()).ToArray(), forward, backward);
        }

        public byte[] DropoutState()
        {
            using var s = Network.DropoutGenerator.get_state(); return s.data<byte>()
            .ToArray();
        }

        public void Dispose()
        {
            Network.Dispose();
            Model.Dispose();
            foreach (var x in new[] { hidden, context, t, g, imgIds, txtIds, target }) x.Dispose();
        }
    }

    [Theory]
    [InlineData("qfloat8", ScalarType.Float32), InlineData("qint8", ScalarType.Float32),
        InlineData("qfloat8", ScalarType.BFloat16), InlineData("uint4", ScalarType.Float32),
        InlineData("uint4", ScalarType.BFloat16)]
    public void CheckpointedLoraGradientsThroughQuantizedBlocksEqualPlainOnesBitForBit(string qtype, ScalarType dtype)
    {
        using var rig = new QuantizedRig(QuantType.Parse(qtype), dtype);
        using var scope = NewDisposeScope();
        var start = rig.DropoutState();
        var (plain, plainForward, plainBackward) = rig.Gradients(checkpointing: false, start);
        var (checkpointed, forward, backward) = rig.Gradients(checkpointing: true, start);
        int outside = rig.QuantizedLayersOutsideBlocks;
        output.WriteLine($"{qtype} {dtype}: widenings plain forward {plainForward} + backward {plainBackward}; " +
            $"checkpointed forward {forward} + backward pass {backward} ({outside} quantized layers outside the " +
            $"blocks); {plain.Length} LoRA tensors");
        // Checkpointed, the backward pass widens each block layer once, in the recompute, and its backward reuses that.
        Assert.Equal(plainForward, forward);
        Assert.Equal(forward - outside, backward);
        // Plain, the layers' backward widens again (all block layers but those whose input needs no gradient).
        Assert.InRange(plainBackward, 1, forward - outside);
        Assert.Equal(plain.Length, checkpointed.Length);
        for (int i = 0; i < plain.Length; i++)
        {
            Assert.True(plain[i].abs().sum().item<float>() > 0, $"LoRA tensor {i} got no gradient");
            Assert.True(Identical(plain[i], checkpointed[i]),
                $"LoRA tensor {i}: checkpointed gradient differs from the plain one (max " +
                $"{(plain[i] - checkpointed[i]).abs().max().item<float>():E2})");
        }
    }

    [Theory]
    [InlineData(true, "qfloat8"), InlineData(false, "qfloat8"), InlineData(true, "uint4"), InlineData(false, "uint4")]
    public void QuantizedTrainingStepsLeaveNoTensors(bool checkpointing, string qtype)
    {
        using var rig = new QuantizedRig(QuantType.Parse(qtype), ScalarType.Float32);
        static long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 2; i++) rig.Step(checkpointing);
        long before = Live();
        var perStep = new List<long>();
        for (int i = 0; i < 20; i++) { rig.Step(checkpointing); perStep.Add(Live() - before); }
        output.WriteLine($"{qtype}, checkpointing {checkpointing}: live tensors {before} -> {Live()} over 20 " +
            $"quantized steps: " +
            $"[{string.Join(", ", perStep)}]");
        Assert.True(Live() == before, $"quantized training steps leak {Live() - before} tensors over 20 steps");
    }
}
