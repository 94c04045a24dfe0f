using static TorchSharp.torch;

namespace Flux2.Nn.Quantization;

/// <summary>
/// Per-output-channel weight quantization: for each row i of W [out, in], scale_i = max_j |W_ij| / MaxCode and
/// q_ij = W_ij / scale_i (rounded, clamped to ±MaxCode, stored in the 8-bit type), so W ≈ q · scale. One scale per
/// row is what lets y = (x · qᵀ) · scale apply it after the matmul, on the output channels. Scales are stored in
/// fp32 but are bf16 numbers (absmax / MaxCode rounded to bf16), so a bf16 gradient can be scaled without rounding
/// them.
/// </summary>
public static class QuantizedWeight
{
    /// <summary>Rows are quantized in chunks of about this many elements, so the fp32 working copies stay a few
    /// hundred MB even for FLUX.2-dev's largest weight (to_qkv_mlp_proj, 55296 x 6144).</summary>
    const long ChunkElements = 1L << 24;

    /// <summary>Quantizes a [out, in] weight (any float dtype, any device) into new (q, scale) on the same
    /// device.</summary>
    public static (Tensor q, Tensor scale) Quantize(Tensor weight, QuantType type)
    {
        CheckMatrix(weight);
        var q = empty(weight.shape, type.StorageType, weight.device);
        var scale = empty(new[] { weight.shape[0] }, ScalarType.Float32, weight.device);
        QuantizeInto(weight, q, scale, type);
        return (q, scale);
    }

    /// <summary>Quantizes <paramref name="weight"/> into existing storage (<paramref name="q"/> [out, in] of the type's
    /// storage dtype, <paramref name="scale"/> [out] fp32 or bf16), which may live on another device: each chunk of
    /// rows is moved there first, so a CPU-read tensor is quantized on the GPU.</summary>
    public static void QuantizeInto(Tensor weight, Tensor q, Tensor scale, QuantType type)
    {
        CheckMatrix(weight);
        if (!q.shape.SequenceEqual(weight.shape) || q.dtype != type.StorageType)
            throw new ArgumentException($"quantized storage is [{string.Join(", ", q.shape)}] {q.dtype}, " +
                                        $"expected [{string.Join(", ", weight.shape)}] {type.StorageType} for {type}");
        if (scale.dim() != 1 || scale.shape[0] != weight.shape[0])
            throw new ArgumentException(
                $"scale is [{string.Join(", ", scale.shape)}], expected [{weight.shape[0]}] (one per output channel)");

        using var _ = no_grad();
        long rows = weight.shape[0], cols = Math.Max(1, weight.shape[1]);
        long step = Math.Max(1, ChunkElements / cols);
        for (long r = 0; r < rows; r += step)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(step, rows - r);
            // A working copy even when the weight already is fp32 on that device: the caller's tensor stays untouched.
            var w = weight.narrow(0, r, n).to(ScalarType.Float32, q.device, copy: true);
            var absmax = w.abs().amax(new long[] { 1 });
            // An all-zero row keeps scale 1 (codes 0): dividing by a zero scale would give NaN codes.
            // Each scale is rounded to the nearest bf16 number (kept in fp32): the backward multiplies a bf16 gradient
            // by it in one bf16 pass, exact only for such scales (QuantizedLinearFunction). Rounding moves the scale by
            // at most 2^-8 relative; a largest code that lands above MaxCode is clamped below, an error of at most
            // 2^-8 of the row's absmax — within the format's own rounding (int8: half a step, 1/254 of the absmax;
            // e4m3: 2^-4 relative).
            var s = where(absmax.gt(0), absmax / type.MaxCode, ones_like(absmax))
                    .to(ScalarType.BFloat16).to(ScalarType.Float32);
            var codes = w.div_(s.unsqueeze(1));
            if (type.RoundsBeforeCast) codes.round_();
            // absmax / scale can land a hair above MaxCode in fp32; e4m3fn has no infinity, so clamp first.
            codes.clamp_(-type.MaxCode, type.MaxCode);
            q.narrow(0, r, n).copy_(codes);
            scale.narrow(0, r, n).copy_(s);
        }
    }

    /// <summary>W ≈ q · scale in <paramref name="dtype"/> (computed in fp32, or fp64 when asked for, rounded once):
    /// a full float copy for merging, export and tests. The forward pass never builds it: it widens the codes
    /// (<c>q.to(dtype)</c>) and scales the product's output channels (<see cref="QuantizedLinearFunction"/>).</summary>
    public static Tensor FloatCopy(Tensor q, Tensor scale, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var work = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        return q.to(work).mul_(scale.to(work).unsqueeze(1)).to(dtype).MoveToOuterDisposeScope();
    }

    static void CheckMatrix(Tensor weight)
    {
        if (weight.dim() != 2)
            throw new ArgumentException(
                $"only [out, in] Linear weights are quantized, got [{string.Join(", ", weight.shape)}]");
        if (!weight.is_floating_point())
            throw new ArgumentException($"cannot quantize a {weight.dtype} tensor: expected a float weight");
    }
}
