using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn.Quantization;

/// <summary>
/// y = (x · q.to(x.dtype)ᵀ) · scale for a frozen quantized weight. Plain autograd through <c>linear(x, dequantized)</c>
/// would save the dequantized bf16 weight for the input gradient, bringing back the very memory quantization saves;
/// this function saves only q and scale and rebuilds what backward needs: grad_x = (grad_y · scale) · q.to(dtype).
/// No weight gradient: the base is frozen (LoRA trains beside it).
/// </summary>
public sealed class QuantizedLinearFunction : autograd.SingleTensorFunction<QuantizedLinearFunction>
{
    public override string Name => "QuantizedLinear";

    /// <summary>The product without bias. Under no_grad, or when x does not need a gradient, no graph node is made
    /// (the custom function would only keep bookkeeping alive).</summary>
    public static Tensor Apply(Tensor x, Tensor q, Tensor scale) =>
        is_grad_enabled() && x.requires_grad ? apply(x, q, scale) : Compute(x, q, scale);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, q, scale) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
        ctx.save_for_backward(new List<Tensor> { q, scale });
        ctx.save_data("session", GradientCheckpoint.ForwardSession);
        return Compute(x, q, scale);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradY)
    {
        // Backward may run on an autograd worker thread (CUDA), outside any caller's DisposeScope: dispose by hand. The
        // handle TorchSharp wraps grad_y in is ours to free; the returned gradient is freed once libtorch has read it
        // (GradientCheckpoint's hand-out list), otherwise each layer's activation-sized gradient would wait for the GC.
        GradientCheckpoint.ReleaseThisThreadsHandedGradients();
        using var _gradY = gradY;
        var saved = ctx.get_saved_variables();
        using var q = saved[0];
        using var scale = saved[1];
        // The scale goes on the dequantized weight (our own temporary, so in place) rather than on a copy of grad_y:
        // one pass over the weight instead of a clone plus a pass over the activation-sized gradient.
        using var w = q.to(gradY.dtype);
        using var rowScale = scale.unsqueeze(1);
        w.mul_(rowScale);                           // in place: computed in fp32, stored in grad's dtype
        var gradX = gradY.matmul(w);                // [.., out] · [out, in] → [.., in]
        return new List<Tensor> { GradientCheckpoint.HandToAutograd(gradX, ctx.get_data("session")), null!, null! };
    }

    static Tensor Compute(Tensor x, Tensor q, Tensor scale)
    {
        // e4m3 (3 mantissa bits) and int8 (|q| ≤ 127) convert to bf16 exactly, so the matmul sees the exact codes;
        // the scale is applied to the output in place with fp32 arithmetic (no bf16 rounding of the scale itself).
        using var w = q.to(x.dtype);
        var y = nn.functional.linear(x, w);
        return y.mul_(scale);
    }
}
