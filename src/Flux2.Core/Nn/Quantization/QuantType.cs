using Flux2.IO;
using static TorchSharp.torch;

namespace Flux2.Nn.Quantization;

/// <summary>
/// How a frozen Linear weight is stored. The names are ai-toolkit's <c>qtype</c> values and their obvious spellings.
/// <list type="bullet">
/// <item>8-bit, one scale per output channel (row), w ≈ q · scale: <c>qfloat8</c> (optimum-quanto's float8 e4m3,
/// 3 mantissa bits over a wide range, good for outlier-heavy rows) and <c>qint8</c> (all 8 bits evenly between
/// ±absmax).</item>
/// <item><c>uint2</c> ... <c>uint8</c> (torchao's UIntX weight-only types, ai-toolkit's "N bit" choices):
/// unsigned N-bit codes q in [0, 2^N - 1] in groups of <see cref="GroupSize"/> consecutive input weights, each group
/// with its own scale and integer zero point z, w ≈ (q - z) · scale. Asymmetric, as torchao's: a group's range
/// [min, max] (widened to contain 0, so z is exact) is covered by all 2^N codes, where a symmetric grid ±absmax
/// leaves up to half the codes unused for a group whose weights lean to one side, a loss that 16 codes cannot spare.
/// Codes are packed along the input dimension: 8/N per byte when N divides 8, else 8 codes in N bytes.</item>
/// </list>
/// </summary>
public sealed class QuantType
{
    /// <summary>float8 e4m3fn codes (libtorch's ScalarType 24), scale = row absmax / 448.</summary>
    public static readonly QuantType Float8 = new("qfloat8", SafetensorsDType.Float8E4M3, 448.0, rounds: false);
    /// <summary>int8 codes in [-127, 127] (symmetric: -128 unused), scale = row absmax / 127.</summary>
    public static readonly QuantType Int8 = new("qint8", ScalarType.Int8, 127.0, rounds: true);
    /// <summary>4-bit codes in [0, 15], two per byte, a bf16 scale and a uint8 zero point per group of 64.</summary>
    public static readonly QuantType UInt4 = Unsigned(4);

    /// <summary>uint2 ... uint8.</summary>
    static readonly QuantType[] UnsignedTypes =
        Enumerable.Range(2, 7).Select(bits => bits == 4 ? UInt4 : Unsigned(bits)).ToArray();

    static readonly (string[] Names, QuantType Type)[] Spellings =
    [
        (["qfloat8", "float8", "fp8", "qfloat8_e4m3fn", "float8_e4m3fn", "fp8_e4m3"], Float8),
        (["qint8", "int8"], Int8),
        .. Enumerable.Range(2, 7).Select(bits => (new[] { $"uint{bits}" }, UnsignedTypes[bits - 2])),
    ];

    /// <summary>The canonical (ai-toolkit) name.</summary>
    public string Name { get; }
    /// <summary>dtype of the stored codes (uint8 bytes of packed codes for the grouped types).</summary>
    public ScalarType StorageType { get; }
    /// <summary>Largest code magnitude: a row's absmax maps onto it (8-bit types); the largest code (grouped
    /// types).</summary>
    public double MaxCode { get; }
    /// <summary>int8 needs an explicit round-to-nearest before the cast (a plain cast truncates); the float8 cast
    /// already rounds to nearest-even.</summary>
    public bool RoundsBeforeCast { get; }
    /// <summary>Bits per code.</summary>
    public int Bits { get; }
    /// <summary>Input weights per scale and zero point (64, torchao's default; a layer whose input width 64 does not
    /// divide takes the largest power of two that does, see <see cref="GroupOf"/>); null: one scale per output
    /// channel, no zero point.</summary>
    public int? GroupSize { get; }
    public bool IsGrouped => GroupSize is not null;

    QuantType(string name, ScalarType storage, double maxCode, bool rounds, int bits = 8, int? groupSize = null)
    {
        Name = name; StorageType = storage; MaxCode = maxCode; RoundsBeforeCast = rounds;
        Bits = bits; GroupSize = groupSize;
    }

    static QuantType Unsigned(int bits) =>
        new($"uint{bits}", ScalarType.Byte, (1 << bits) - 1, rounds: true, bits, groupSize: 64);

    /// <summary>All accepted spellings, canonical first, for help texts and errors.</summary>
    public static IEnumerable<string> SupportedNames => Spellings.SelectMany(s => s.Names);

    public static bool TryParse(string? name, out QuantType? type)
    {
        var key = (name ?? "").Trim().ToLowerInvariant();
        type = Spellings.FirstOrDefault(s => s.Names.Contains(key)).Type;
        return type is not null;
    }

    /// <summary>Parses a qtype name; anything else (e.g. ai-toolkit's <c>qint4</c> or <c>nvfp4</c>, which this kit does
    /// not implement) fails with the list of supported names.</summary>
    public static QuantType Parse(string? name) =>
        TryParse(name, out var t) ? t! : throw new ArgumentException(UnsupportedMessage(name));

    public static string UnsupportedMessage(string? name) =>
        $"unsupported qtype '{name}': supported are {string.Join(", ", SupportedNames)} "
        + "(8-bit weights with one scale per output channel, or uint2-uint8 codes with a scale and zero point per "
        + "group of 64 input weights)";

    /// <summary>The storage dtype, if it is one of the 8-bit per-channel types (a tensor's dtype → its quantization
    /// type).</summary>
    public static QuantType? OfStorage(ScalarType dtype) =>
        dtype == Float8.StorageType ? Float8 : dtype == Int8.StorageType ? Int8 : null;

    /// <summary>The group size for a layer of <paramref name="inFeatures"/> inputs: <see cref="GroupSize"/> when it
    /// divides them, else the largest power of two that does; at least 8, so every group packs into whole
    /// bytes.</summary>
    public long GroupOf(long inFeatures)
    {
        long g = GroupSize ?? throw new InvalidOperationException($"{Name} has no groups");
        while (g > 8 && inFeatures % g != 0) g /= 2;
        if (inFeatures % g != 0)
            throw new ArgumentException($"{Name} packs groups of 8 input weights at least; a Linear with " +
                                        $"{inFeatures} inputs cannot be stored as {Name}");
        return g;
    }

    /// <summary>Shape of the stored codes of a [out, in] weight.</summary>
    public long[] CodesShape(long outFeatures, long inFeatures) =>
        IsGrouped ? [outFeatures, inFeatures * Bits / 8] : [outFeatures, inFeatures];

    /// <summary>Shape of the scales (and zero points, for the grouped types) of a [out, in] weight.</summary>
    public long[] ScaleShape(long outFeatures, long inFeatures) =>
        IsGrouped ? [outFeatures, inFeatures / GroupOf(inFeatures)] : [outFeatures];

    /// <summary>dtype of the stored scales: fp32 holding bf16 numbers for the 8-bit types (so the output scaling in
    /// fp32 and bf16 agree), bf16 for the grouped ones (as torchao; 2 bytes per group).</summary>
    public ScalarType ScaleType => IsGrouped ? ScalarType.BFloat16 : ScalarType.Float32;

    public override string ToString() => Name;
}
