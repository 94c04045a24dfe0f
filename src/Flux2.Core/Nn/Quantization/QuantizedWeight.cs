using static TorchSharp.torch;

namespace Flux2.Nn.Quantization;

/// <summary>
/// Weight quantization of [out, in] Linear weights, in the two layouts of <see cref="QuantType"/>:
/// <list type="bullet">
/// <item>8-bit per output channel: for each row i, scale_i = max_j |W_ij| / MaxCode and q_ij = W_ij / scale_i
/// (rounded, clamped to ±MaxCode, stored in the 8-bit type), so W ≈ q · scale. One scale per row is what lets
/// y = (x · qᵀ) · scale apply it after the matmul, on the output channels. Scales are stored in fp32 but are bf16
/// numbers (absmax / MaxCode rounded to bf16), so a bf16 gradient can be scaled without rounding them.</item>
/// <item>grouped unsigned N-bit: each group of g consecutive inputs of a row (g = <see cref="QuantType.GroupOf"/>) has
/// lo = min(min W, 0), hi = max(max W, 0), scale = (hi − lo) / (2^N − 1) rounded up to a bf16 number, zero point
/// z = round(−lo / scale) and codes q = clamp(round(W / scale) + z, 0, 2^N − 1), so W ≈ (q − z) · scale within
/// scale / 2 per element: rounding the scale up keeps the 2^N codes spanning [lo, hi], and z moves the grid by at most
/// half a step. The codes are packed into bytes (<see cref="Pack"/>); the forward dequantizes the weight.</item>
/// </list>
/// </summary>
public static class QuantizedWeight
{
    /// <summary>Rows are quantized in chunks of about this many elements, so the fp32 working copies stay a few
    /// hundred MB even for FLUX.2-dev's largest weight (to_qkv_mlp_proj, 55296 x 6144).</summary>
    const long ChunkElements = 1L << 24;

    /// <summary>Quantizes a [out, in] weight (any float dtype, any device) into new storage on the same device: codes,
    /// scales and, for the grouped types, zero points (null otherwise).</summary>
    public static (Tensor q, Tensor scale, Tensor? zero) Quantize(Tensor weight, QuantType type)
    {
        CheckMatrix(weight);
        long rows = weight.shape[0], cols = weight.shape[1];
        var q = empty(type.CodesShape(rows, cols), type.StorageType, weight.device);
        var scale = empty(type.ScaleShape(rows, cols), type.ScaleType, weight.device);
        var zero = type.IsGrouped ? empty(type.ScaleShape(rows, cols), ScalarType.Byte, weight.device) : null;
        QuantizeInto(weight, q, scale, zero, type);
        return (q, scale, zero);
    }

    /// <summary>Quantizes <paramref name="weight"/> into existing storage (shapes and dtypes as
    /// <see cref="QuantType.CodesShape"/>, <see cref="QuantType.ScaleShape"/>; 8-bit scales may be fp32 or bf16;
    /// <paramref name="zero"/> uint8, null for the 8-bit types), which may live on another device: each chunk of rows
    /// is moved there first, so a CPU-read tensor is quantized on the GPU.</summary>
    public static void QuantizeInto(Tensor weight, Tensor q, Tensor scale, Tensor? zero, QuantType type)
    {
        CheckMatrix(weight);
        long rows = weight.shape[0], cols = Math.Max(1, weight.shape[1]);
        var codesShape = type.CodesShape(weight.shape[0], weight.shape[1]);
        if (!q.shape.SequenceEqual(codesShape) || q.dtype != type.StorageType)
            throw new ArgumentException($"quantized storage is [{string.Join(", ", q.shape)}] {q.dtype}, " +
                                        $"expected [{string.Join(", ", codesShape)}] {type.StorageType} for {type}");
        var scaleShape = type.ScaleShape(weight.shape[0], weight.shape[1]);
        if (!scale.shape.SequenceEqual(scaleShape))
            throw new ArgumentException($"scale is [{string.Join(", ", scale.shape)}], expected " +
                $"[{string.Join(", ", scaleShape)}] ({(type.IsGrouped ? "one per group" : "one per output channel")})");
        if (type.IsGrouped != zero is not null
            || zero is not null && (!zero.shape.SequenceEqual(scaleShape) || zero.dtype != ScalarType.Byte))
            throw new ArgumentException(type.IsGrouped
                ? $"{type} needs uint8 zero points [{string.Join(", ", scaleShape)}]"
                : $"{type} has no zero points");

        using var _ = no_grad();
        long step = Math.Max(1, ChunkElements / cols);
        for (long r = 0; r < rows; r += step)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(step, rows - r);
            // A working copy even when the weight already is fp32 on that device: the caller's tensor stays untouched.
            var w = weight.narrow(0, r, n).to(ScalarType.Float32, q.device, copy: true);
            if (type.IsGrouped)
            {
                var (codes, s, z) = QuantizeGroups(w, type);
                q.narrow(0, r, n).copy_(Pack(codes, type.Bits));
                scale.narrow(0, r, n).copy_(s);
                zero!.narrow(0, r, n).copy_(z);
                continue;
            }
            var absmax = w.abs().amax(new long[] { 1 });
            // An all-zero row keeps scale 1 (codes 0): dividing by a zero scale would give NaN codes.
            // Each scale is rounded to the nearest bf16 number (kept in fp32): the backward multiplies a bf16 gradient
            // by it in one bf16 pass, exact only for such scales (QuantizedLinearFunction). Rounding moves the scale by
            // at most 2^-8 relative; a largest code that lands above MaxCode is clamped below, an error of at most
            // 2^-8 of the row's absmax — within the format's own rounding (int8: half a step, 1/254 of the absmax;
            // e4m3: 2^-4 relative).
            var sRow = where(absmax.gt(0), absmax / type.MaxCode, ones_like(absmax))
                    .to(ScalarType.BFloat16).to(ScalarType.Float32);
            var rowCodes = w.div_(sRow.unsqueeze(1));
            if (type.RoundsBeforeCast) rowCodes.round_();
            // absmax / scale can land a hair above MaxCode in fp32; e4m3fn has no infinity, so clamp first.
            rowCodes.clamp_(-type.MaxCode, type.MaxCode);
            q.narrow(0, r, n).copy_(rowCodes);
            scale.narrow(0, r, n).copy_(sRow);
        }
    }

    /// <summary>fp32 rows [n, in] to unpacked codes [n, in] (uint8), scales [n, groups] (fp32 holding bf16 numbers)
    /// and zero points [n, groups] (uint8).</summary>
    static (Tensor Codes, Tensor Scale, Tensor Zero) QuantizeGroups(Tensor w, QuantType type)
    {
        long n = w.shape[0], cols = w.shape[1], g = type.GroupOf(cols);
        var groups = w.view(n, cols / g, g);
        var lo = groups.amin(new long[] { -1 }).clamp_max_(0);
        var hi = groups.amax(new long[] { -1 }).clamp_min_(0);
        var exact = (hi - lo).div_(type.MaxCode);
        // An all-zero group keeps scale 1 (zero point 0, codes 0).
        exact = where(exact.gt(0), exact, ones_like(exact));
        // Rounded up to a bf16 number: nearest, and one step up where that fell below (x·(1 + 2^-7) is at least one
        // bf16 step above a bf16 x, and rounds to the next or the one after).
        var s = exact.to(ScalarType.BFloat16).to(ScalarType.Float32);
        s = where(s.lt(exact), (s * (1 + 1.0 / 128)).to(ScalarType.BFloat16).to(ScalarType.Float32), s);
        var z = lo.neg().div_(s).round_().clamp_(0, type.MaxCode);
        var codes = groups.div(s.unsqueeze(-1)).round_().add_(z.unsqueeze(-1)).clamp_(0, type.MaxCode);
        return (codes.view(n, cols).to(ScalarType.Byte), s, z.to(ScalarType.Byte));
    }

    /// <summary>Codes [n, in] (integers in [0, 2^bits), any dtype) → bytes [n, in · bits / 8] along the input
    /// dimension: when bits divides 8, code k·j + i of a row sits at bit i·bits of byte j (k = 8 / bits codes per
    /// byte); otherwise 8 codes form a little-endian word of bits bytes, code i at bit i·bits.</summary>
    public static Tensor Pack(Tensor codes, int bits)
    {
        using var scope = NewDisposeScope();
        long n = codes.shape[0], cols = codes.shape[1];
        var c = codes.to(ScalarType.Byte);
        if (bits == 8) return c.clone().MoveToOuterDisposeScope();
        if (8 % bits == 0)
        {
            int k = 8 / bits;
            var v = c.view(n, cols / k, k);
            var packed = v.select(-1, 0).clone();
            // Each term stays below 2^8: a code below 2^bits shifted by at most 8 - bits.
            for (int i = 1; i < k; i++) packed.bitwise_or_(v.select(-1, i).mul(1 << (i * bits)));
            return packed.MoveToOuterDisposeScope();
        }
        var word = c.view(n, cols / 8, 8).to(ScalarType.Int64).mul(Powers(8, bits, c.device)).sum(new long[] { -1 });
        var bytes = Enumerable.Range(0, bits)
            .Select(j => word.div(1L << (8 * j), rounding_mode: RoundingMode.floor).remainder(256)).ToArray();
        return stack(bytes, -1).to(ScalarType.Byte).view(n, cols * bits / 8).MoveToOuterDisposeScope();
    }

    /// <summary>The inverse of <see cref="Pack"/>: bytes [n, in · bits / 8] → codes [n, in] (uint8).</summary>
    public static Tensor Unpack(Tensor packed, int bits)
    {
        using var scope = NewDisposeScope();
        long n = packed.shape[0], cols = packed.shape[1] * 8 / bits;
        if (bits == 8) return packed.clone().MoveToOuterDisposeScope();
        Tensor[] parts;
        if (8 % bits == 0)
        {
            // Code 0 needs no shift and the last one no mask: uint4 is one remainder and one division.
            int k = 8 / bits;
            parts = Enumerable.Range(0, k).Select(i =>
            {
                var shifted = i == 0 ? packed : packed.div(1 << (i * bits), rounding_mode: RoundingMode.floor);
                return i == k - 1 ? shifted : shifted.remainder(1 << bits);
            }).ToArray();
        }
        else
        {
            var word = packed.view(n, cols / 8, bits).to(ScalarType.Int64).mul(Powers(bits, 8, packed.device))
                .sum(new long[] { -1 });
            parts = Enumerable.Range(0, 8)
                .Select(i => word.div(1L << (i * bits), rounding_mode: RoundingMode.floor).remainder(1 << bits))
                .ToArray();
        }
        return stack(parts, -1).to(ScalarType.Byte).view(n, cols).MoveToOuterDisposeScope();
    }

    /// <summary>[count] int64: 2^(i · step).</summary>
    static Tensor Powers(int count, int step, Device device) =>
        tensor(Enumerable.Range(0, count).Select(i => 1L << (i * step)).ToArray(), device: device);

    /// <summary>A grouped type's weight (q - z) · scale [out, in] in <paramref name="dtype"/>: the codes and zero
    /// points convert exactly, so each element is rounded once, in the product. What the forward of a grouped layer
    /// multiplies with (<see cref="QuantizedLinearFunction"/>).</summary>
    public static Tensor Dequantize(QuantType type, Tensor q, Tensor scale, Tensor zero, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long rows = q.shape[0], groups = scale.shape[1];
        var w = Unpack(q, type.Bits).to(dtype);
        var grouped = w.view(rows, groups, -1);
        grouped.sub_(zero.to(dtype).unsqueeze(-1)).mul_(scale.to(dtype).unsqueeze(-1));
        return w.MoveToOuterDisposeScope();
    }

    /// <summary>The weight in <paramref name="dtype"/> (computed in fp32, or fp64 when asked for, rounded once): q ·
    /// scale, or (q − z) · scale for a grouped type. A full float copy for merging, export and tests. The forward of
    /// an 8-bit layer never builds it: it widens the codes (<c>q.to(dtype)</c>) and scales the product's output
    /// channels (<see cref="QuantizedLinearFunction"/>).</summary>
    public static Tensor FloatCopy(QuantType type, Tensor q, Tensor scale, Tensor? zero, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var work = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var w = type.IsGrouped ? Dequantize(type, q, scale, zero!, work)
                               : q.to(work).mul_(scale.to(work).unsqueeze(1));
        return w.to(dtype).MoveToOuterDisposeScope();
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
