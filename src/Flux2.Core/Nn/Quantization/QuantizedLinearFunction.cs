using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn.Quantization;

/// <summary>
/// y = (x · q.to(x.dtype)ᵀ) · scale for a frozen quantized weight. Plain autograd through <c>linear(x,
/// dequantized)</c> would save the dequantized bf16 weight for the input gradient, bringing back the very memory
/// quantization saves; this function saves only q and scale and rebuilds what backward needs: grad_x = (grad_y ·
/// scale) · q.to(dtype). No weight gradient: the base is frozen (LoRA trains beside it).
/// <para>Memory traffic per parameter and step with per-block gradient checkpointing (bf16, T tokens, layer [out, in];
/// "widen" = q.to(bf16): read 1 B, write 2 B):</para>
/// <list type="bullet">
/// <item>training forward (no grad): widen 3 B/param + the output scale in place, 4 B per output element
/// (T·out);</item>
/// <item>recompute in the backward pass: the same, but the widened codes are kept for the block's backward, which
/// follows at once (<see cref="Linear.Recompute"/> set by the block runner): one bf16 weight per layer of one block
/// stays alive until that layer's backward (FLUX.2-dev: ~2 GB for a double block, ~1 GB for a single one);</item>
/// <item>backward: no widening (the kept codes) and the scale on the gradient side, one pass over grad_y, 4 B per
/// element (T·out) — instead of widening again plus scaling the weight in place, 7 B per parameter (out·in). For
/// FLUX.2-dev at 1024² (T = 4608, 512 of them text) that is ~64 GB instead of ~220 GB per step.</item>
/// </list>
/// <para>Outside a recompute (training without checkpointing) only q and scale are kept and the backward widens again:
/// keeping every layer's widened weight until the backward would be the bf16 model again.</para>
/// <para>A grouped type (uint2-uint8: a scale and zero point per group of inputs) cannot move its scales behind the
/// matmul: "widening" is dequantizing, (q - z) · scale in the activations' dtype
/// (<see cref="QuantizedWeight.Dequantize"/>), y = x · wᵀ and grad_x = grad_y · w, with the same keeping and
/// re-widening as above.</para>
/// </summary>
public sealed class QuantizedLinearFunction : autograd.SingleTensorFunction<QuantizedLinearFunction>
{
    public override string Name => "QuantizedLinear";

    [ThreadStatic] static long widenings;

    /// <summary>How many times this thread has widened codes to a float dtype for a product (forward, recompute or
    /// backward): what tests and benches read to see which passes rebuild the weight.</summary>
    public static long WideningsOnThisThread => widenings;

    /// <summary>The widened codes a recompute's forward keeps for its backward; taken (once) by that
    /// backward.</summary>
    sealed class KeptWeight
    {
        Tensor? weight;
        public KeptWeight(Tensor w) => weight = w;
        public Tensor? Take() { var w = weight; weight = null; return w; }
    }

    /// <summary>The product without bias. Under no_grad, or when x does not need a gradient, no graph node is made
    /// (the custom function would only keep bookkeeping alive). <paramref name="recompute"/>: the session of the
    /// checkpointed block being recomputed, when it is (<see cref="Linear.Recompute"/>): the widened codes are kept for
    /// the backward, and the input gradient is released when that session's backward pass ends.</summary>
    /// <param name="zero">The grouped types' zero points; null for the 8-bit types.</param>
    public static Tensor Apply(Tensor x, QuantType type, Tensor q, Tensor scale, Tensor? zero,
        CheckpointSession? recompute = null)
    {
        var weight = new Codes(type, q, scale, zero);
        return is_grad_enabled() && x.requires_grad ? apply(x, new Recomputing(recompute), weight)
                                                    : Compute(x, weight, keep: false).Y;
    }

    /// <summary>Boxes the optional session for <c>apply</c>'s argument list.</summary>
    sealed record Recomputing(CheckpointSession? Session);

    /// <summary>A layer's stored weight. Passed to <c>apply</c> as data, not as tensors: none of them takes a
    /// gradient; the forward saves them for the backward.</summary>
    sealed record Codes(QuantType Type, Tensor Q, Tensor Scale, Tensor? Zero);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var session = ((Recomputing)vars[1]).Session;
        var weight = (Codes)vars[2];
        ctx.save_for_backward(weight.Zero is null ? [weight.Q, weight.Scale] : [weight.Q, weight.Scale, weight.Zero]);
        ctx.save_data("session", new Recomputing(session));
        ctx.save_data("type", weight.Type);
        var (y, kept) = Compute(x, weight, keep: session is not null);
        if (kept is not null) ctx.save_data("widened", new KeptWeight(kept));
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradY)
    {
        // Backward may run on an autograd worker thread (CUDA), outside any caller's DisposeScope: dispose by hand. The
        // handle TorchSharp wraps grad_y in is ours to free; the returned gradient is freed once libtorch has read it
        // (HandedGradients: the recompute's session's, else the unowned one), otherwise each layer's activation-sized
        // gradient would wait for the GC.
        var handed = ((Recomputing)ctx.get_data("session")).Session?.Handed ?? HandedGradients.Unowned;
        handed.ReleaseThisThreads();
        if (handed != HandedGradients.Unowned) HandedGradients.Unowned.ReleaseThisThreads();
        using var _gradY = gradY;
        var saved = ctx.get_saved_variables();
        var type = (QuantType)ctx.get_data("type");
        using var q = saved[0];
        using var scale = saved[1];
        using var zero = saved.Count > 2 ? saved[2] : null;
        // The recompute's widened codes, else (no recompute, or a second backward with retain_graph) widen again.
        // Either way the same bits, so checkpointed and plain gradients stay identical. Freed right after the matmul is
        // enqueued: later kernels on the same stream run after it, so the allocator may reuse the memory.
        var kept = (ctx.get_data("widened") as KeptWeight)?.Take();
        if (kept is not null && kept.dtype != gradY.dtype) { kept.Dispose(); kept = null; }
        using var w = kept ?? Widen(new Codes(type, q, scale, zero), gradY.dtype);
        Tensor gradX;                               // [.., out] · [out, in] → [.., in]
        if (type.IsGrouped) gradX = gradY.matmul(w);
        else
            using (var scaled = ScaleOutputChannels(gradY, scale)) gradX = scaled.matmul(w);
        return new List<Tensor> { handed.Hand(gradX), null!, null! };
    }

    /// <summary>y, and the widened codes when <paramref name="keep"/> (owned by the caller, out of any DisposeScope:
    /// blocks run their layers inside scopes of their own that end before the backward).</summary>
    static (Tensor Y, Tensor? Kept) Compute(Tensor x, Codes weight, bool keep)
    {
        // e4m3 (3 mantissa bits) and int8 (|q| ≤ 127) convert to bf16 exactly, so the matmul sees the exact codes;
        // the scale is applied to the output in place, the fp32 product rounded once. A grouped type's widened weight
        // is the dequantized one, scales included.
        var w = Widen(weight, x.dtype);
        try
        {
            var y = nn.functional.linear(x, w);
            if (!weight.Type.IsGrouped) ScaleOutput(y, weight.Scale);
            return (y, keep ? w.DetachFromDisposeScope() : null);
        }
        finally { if (!keep) w.Dispose(); }
    }

    /// <summary>y · scale per output channel, in place.</summary>
    static void ScaleOutput(Tensor y, Tensor scale)
    {
        if (y.dtype == ScalarType.BFloat16)
        {
            // Same bits as multiplying by the fp32 scale (every scale we quantize is a bf16 number, see
            // ScaleOutputChannels), but a same-dtype kernel: a bf16 x fp32 multiply takes libtorch's elementwise
            // path that casts each operand per element, slower on a [tokens, out] output. A pre-quantized file's
            // own scales (ModuleLoader copies them) are rounded to bf16 here: at most 2^-9 relative per channel.
            using var s = scale.to(ScalarType.BFloat16);
            y.mul_(s);
        }
        else y.mul_(scale);
    }

    static Tensor Widen(Codes weight, ScalarType dtype)
    {
        widenings++;
        return weight.Type.IsGrouped
            ? QuantizedWeight.Dequantize(weight.Type, weight.Q, weight.Scale, weight.Zero!, dtype)
            : weight.Q.to(dtype);
    }

    /// <summary>grad_y · scale per output channel (last dimension) in grad_y's dtype, rounded once, in one pass where
    /// the types allow. grad_y may be shared with other consumers (the LoRA branch gets the same tensor from the add),
    /// so never in place on it.</summary>
    static Tensor ScaleOutputChannels(Tensor gradY, Tensor scale)
    {
        switch (gradY.dtype)
        {
            case ScalarType.BFloat16:
                // Exact: QuantizedWeight makes every scale a bf16 number (held in fp32), so the bf16 product computes
                // the same fp32 product and rounds it once, without the fp32 intermediate a mixed multiply would write.
                using (var s = scale.to(ScalarType.BFloat16)) return gradY.mul(s);
            case ScalarType.Float32 or ScalarType.Float64:
                return gradY.mul(scale);            // fp32 · fp32, or promoted to fp64: grad_y's dtype
            default:
                // fp16 (a bf16 scale can be subnormal there): a copy scaled in place, computed in fp32, rounded once.
                var copy = gradY.clone();
                return copy.mul_(scale);
        }
    }
}
