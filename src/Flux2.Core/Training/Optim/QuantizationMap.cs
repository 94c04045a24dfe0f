using static TorchSharp.torch;

namespace Flux2.Training.Optim;

/// <summary>
/// 256 sorted code values in [-1, 1] (signed) or [0, 1] (unsigned); a byte is an index into them. The dynamic map is
/// bitsandbytes' "dynamic tree" (Dettmers et al., 8-bit Optimizers via Block-wise Quantization): a decimal exponent
/// (10^-6 .. 10^0) with a linear fraction in [0.1, 1] whose resolution grows with the exponent, so values far below
/// the block's absmax keep a relative precision a linear map would lose (a linear byte zeroes anything under
/// absmax/255).
/// </summary>
public sealed class QuantizationMap
{
    /// <summary>The 256 code values, ascending.</summary>
    public float[] Values { get; }
    /// <summary>The 255 midpoints between neighbouring codes: a value rounds to the code between its two
    /// midpoints.</summary>
    public float[] Midpoints { get; }
    public bool Signed { get; }

    QuantizationMap(float[] values, bool signed)
    {
        Array.Sort(values);
        if (values.Length != 256) throw new ArgumentException($"a byte map needs 256 codes, got {values.Length}");
        Values = values;
        Midpoints = Enumerable.Range(0, 255).Select(i => (values[i] + values[i + 1]) / 2).ToArray();
        Signed = signed;
    }

    public static readonly QuantizationMap DynamicSigned = Dynamic(signed: true);
    public static readonly QuantizationMap DynamicUnsigned = Dynamic(signed: false);

    /// <summary>The linear map, for comparison: 256 evenly spaced codes.</summary>
    public static QuantizationMap Linear(bool signed) => new(
        Enumerable.Range(0, 256).Select(i => signed ? Math.Max(-1f, (i - 128) / 127f) : i / 255f).ToArray(), signed);

    /// <summary>
    /// Seven decades 10^(i-6), i = 0..6; decade i holds 2^i (signed, each sign) or 2^(i+1) (unsigned) codes at the
    /// midpoints of an even split of [0.1, 1]. Plus 0 and 1, so zero and the block maximum are exact: 2·127 + 2 = 254
    /// + 2 = 256 codes either way.
    /// </summary>
    static QuantizationMap Dynamic(bool signed)
    {
        var codes = new List<float> { 0f, 1f };
        for (int i = 0; i < 7; i++)
        {
            int fractions = signed ? 1 << i : 1 << (i + 1);
            double scale = Math.Pow(10, i - 6);
            for (int k = 0; k < fractions; k++)
            {
                // Midpoint of the k-th of `fractions` equal parts of [0.1, 1].
                double mid = 0.1 + 0.9 * (k + 0.5) / fractions;
                codes.Add((float)(scale * mid));
                if (signed) codes.Add((float)(-scale * mid));
            }
        }
        return new QuantizationMap(codes.ToArray(), signed);
    }

    /// <summary>Code values and midpoints as tensors on <paramref name="device"/> (cached per device).</summary>
    public (Tensor values, Tensor midpoints) On(Device device)
    {
        lock (cache)
        {
            var key = device.ToString();
            if (!cache.TryGetValue(key, out var t))
            {
                t = (tensor(Values, device: device), tensor(Midpoints, device: device));
                t.values.DetachFromDisposeScope();
                t.midpoints.DetachFromDisposeScope();
                cache[key] = t;
            }
            return t;
        }
    }

    readonly Dictionary<string, (Tensor values, Tensor midpoints)> cache = new();
}
