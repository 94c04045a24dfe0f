using TorchSharp;

namespace Flux2.IO;

/// <summary>safetensors dtype names &lt;-&gt; libtorch scalar types. float8 has no TorchSharp enum member; the native
/// values are used directly (24 = float8_e4m3fn, 23 = float8_e5m2; the native side accepts them).</summary>
public static class SafetensorsDType
{
    public const torch.ScalarType Float8E5M2 = (torch.ScalarType)23;
    public const torch.ScalarType Float8E4M3 = (torch.ScalarType)24;

    static readonly Dictionary<string, (torch.ScalarType type, int size)> Known = new()
    {
        ["F32"] = (torch.ScalarType.Float32, 4),
        ["F16"] = (torch.ScalarType.Float16, 2),
        ["BF16"] = (torch.ScalarType.BFloat16, 2),
        ["F8_E4M3"] = (Float8E4M3, 1),
        ["F8_E5M2"] = (Float8E5M2, 1),
        ["I64"] = (torch.ScalarType.Int64, 8),
        ["I32"] = (torch.ScalarType.Int32, 4),
        ["U8"] = (torch.ScalarType.Byte, 1),
        ["BOOL"] = (torch.ScalarType.Bool, 1),
        ["F64"] = (torch.ScalarType.Float64, 8),
        ["I16"] = (torch.ScalarType.Int16, 2),
        ["I8"] = (torch.ScalarType.Int8, 1),
    };

    public static bool IsKnown(string name) => Known.ContainsKey(name);
    public static IEnumerable<string> Names => Known.Keys;
    public static int ElementSize(string name) => Known[name].size;
    public static torch.ScalarType ToScalarType(string name) => Known[name].type;

    public static string FromScalarType(torch.ScalarType t)
    {
        foreach (var (k, v) in Known) if (v.type == t) return k;
        throw new NotSupportedException($"dtype {t} cannot be stored in safetensors");
    }
}
