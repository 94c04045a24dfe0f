using Flux2.IO;
using static TorchSharp.torch;

namespace Flux2.Nn.Quantization;

/// <summary>
/// How a frozen Linear weight is stored: 8-bit codes plus one fp32 scale per output channel (row), with
/// w ≈ q · scale. The names are ai-toolkit's <c>qtype</c> values (optimum-quanto's <c>qfloat8</c>, <c>qint8</c>) and
/// their obvious spellings. float8 e4m3 keeps 3 mantissa bits over a wide range (good for outlier-heavy rows);
/// int8 spends all 8 bits evenly between ±absmax.
/// </summary>
public sealed class QuantType
{
    /// <summary>float8 e4m3fn codes (libtorch's ScalarType 24), scale = row absmax / 448.</summary>
    public static readonly QuantType Float8 = new("qfloat8", SafetensorsDType.Float8E4M3, 448.0, rounds: false);
    /// <summary>int8 codes in [-127, 127] (symmetric: -128 unused), scale = row absmax / 127.</summary>
    public static readonly QuantType Int8 = new("qint8", ScalarType.Int8, 127.0, rounds: true);

    static readonly (string[] Names, QuantType Type)[] Spellings =
    [
        (["qfloat8", "float8", "fp8", "qfloat8_e4m3fn", "float8_e4m3fn", "fp8_e4m3"], Float8),
        (["qint8", "int8"], Int8),
    ];

    /// <summary>The canonical (ai-toolkit) name.</summary>
    public string Name { get; }
    /// <summary>dtype of the stored codes.</summary>
    public ScalarType StorageType { get; }
    /// <summary>Largest code magnitude: a row's absmax maps onto it.</summary>
    public double MaxCode { get; }
    /// <summary>int8 needs an explicit round-to-nearest before the cast (a plain cast truncates); the float8 cast
    /// already rounds to nearest-even.</summary>
    public bool RoundsBeforeCast { get; }

    QuantType(string name, ScalarType storage, double maxCode, bool rounds)
    {
        Name = name; StorageType = storage; MaxCode = maxCode; RoundsBeforeCast = rounds;
    }

    /// <summary>All accepted spellings, canonical first, for help texts and errors.</summary>
    public static IEnumerable<string> SupportedNames => Spellings.SelectMany(s => s.Names);

    public static bool TryParse(string? name, out QuantType? type)
    {
        var key = (name ?? "").Trim().ToLowerInvariant();
        type = Spellings.FirstOrDefault(s => s.Names.Contains(key)).Type;
        return type is not null;
    }

    /// <summary>Parses a qtype name; anything else (e.g. ai-toolkit's <c>uint4</c>, which this kit does not implement)
    /// fails with the list of supported names.</summary>
    public static QuantType Parse(string? name) =>
        TryParse(name, out var t) ? t! : throw new ArgumentException(UnsupportedMessage(name));

    public static string UnsupportedMessage(string? name) =>
        $"unsupported qtype '{name}': supported are {string.Join(", ", SupportedNames)} "
        + "(8-bit weights with one scale per output channel; 4-bit types such as uint4 are not implemented)";

    /// <summary>The storage dtype, if it is one of ours (a tensor's dtype → its quantization type).</summary>
    public static QuantType? OfStorage(ScalarType dtype) =>
        dtype == Float8.StorageType ? Float8 : dtype == Int8.StorageType ? Int8 : null;

    public override string ToString() => Name;
}
