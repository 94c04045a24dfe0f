using System.Text.Json;

namespace Flux2.IO;

/// <summary>Typed reads from config.json files with errors that name the file and key.</summary>
public static class Json
{
    public static int Int(JsonElement o, string key, int fallback, string file) =>
        !o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : throw Bad(file, key, "an integer", v);

    public static int? NullableInt(JsonElement o, string key, string file) =>
        !o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : throw Bad(file, key, "an integer or null", v);

    public static double Double(JsonElement o, string key, double fallback, string file) =>
        !o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Bad(file, key, "a number", v);

    public static bool Bool(JsonElement o, string key, bool fallback, string file) =>
        !o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Bad(file, key, "true or false", v);

    public static string String(JsonElement o, string key, string fallback, string file) =>
        !o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
        : v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(file, key, "a string", v);

    public static int[] IntArray(JsonElement o, string key, int[] fallback, string file)
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        if (v.ValueKind != JsonValueKind.Array) throw Bad(file, key, "an array of integers", v);
        return v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var n) ? n : throw Bad(file, key, "an array of integers", v)).ToArray();
    }

    static InvalidDataException Bad(string file, string key, string expected, JsonElement got) =>
        new($"{file}: key '{key}' must be {expected}, found {got.GetRawText()}");
}
