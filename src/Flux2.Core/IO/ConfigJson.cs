using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Flux2.IO;

/// <summary>
/// The one reader of model/scheduler <c>config.json</c> files. Typed reads of optional keys: an absent or <c>null</c>
/// key gives the caller's default, a value of the wrong type fails with a <see cref="ConfigException"/> naming the
/// file, the key and the value found; unknown keys are ignored. <see cref="Object"/> opens a nested object (keys inside
/// it are named with a dotted path, e.g. <c>text_config.hidden_size</c>).
/// </summary>
public sealed class ConfigJson
{
    static readonly JsonDocumentOptions Options = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip
    };

    readonly JsonElement obj;
    readonly string prefix;

    /// <summary>The file (or other origin) every error names.</summary>
    public string File { get; }

    ConfigJson(JsonElement obj, string file, string prefix) { this.obj = obj; File = file; this.prefix = prefix; }

    /// <summary>Reads a config file; a missing file is a <see cref="FileNotFoundException"/>, bad JSON a
    /// <see cref="ConfigException"/>.</summary>
    public static ConfigJson Load(string path)
    {
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"config not found: {path}", path);
        return Parse(System.IO.File.ReadAllText(path), path);
    }

    /// <summary>Parses config text; <paramref name="file"/> names the origin in errors.</summary>
    public static ConfigJson Parse(string json, string file = "config.json")
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(json, Options);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e) { throw new ConfigException(file, null, $"not valid JSON ({e.Message})", e); }
        if (root.ValueKind != JsonValueKind.Object) throw new ConfigException(file, null,
            $"the top level must be a JSON object, found {root.ValueKind}");
        return new ConfigJson(root, file, "");
    }

    /// <summary>Whether the key is present at all (even as <c>null</c>).</summary>
    public bool Has(string key) => obj.TryGetProperty(key, out _);

    public int Int(string key, int fallback) => NullableInt(key) ?? fallback;

    public int? NullableInt(string key) =>
        !TryGet(key, out var v) ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : throw Bad(key, "an integer", v);

    public double Double(string key, double fallback) =>
        !TryGet(key, out var v) ? fallback
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Bad(key, "a number", v);

    public bool Bool(string key, bool fallback) =>
        !TryGet(key, out var v) ? fallback
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
            : throw Bad(key, "true or false", v);

    [return: NotNullIfNotNull(nameof(fallback))]
    public string? String(string key, string? fallback) =>
        !TryGet(key, out var v) ? fallback
        : v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(key, "a string", v);

    [return: NotNullIfNotNull(nameof(fallback))]
    public int[]? Ints(string key, int[]? fallback) =>
        !TryGet(key, out var v) ? fallback
        : v.ValueKind != JsonValueKind.Array ? throw Bad(key, "an array of integers", v)
        : v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var n) ? n
            : throw Bad(key, "an array of integers", v)).ToArray();

    [return: NotNullIfNotNull(nameof(fallback))]
    public string[]? Strings(string key, string[]? fallback) =>
        !TryGet(key, out var v) ? fallback
        : v.ValueKind != JsonValueKind.Array ? throw Bad(key, "an array of strings", v)
        : v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()!
            : throw Bad(key, "an array of strings", v)).ToArray();

    /// <summary>A nested object, or null when the key is absent or <c>null</c>.</summary>
    public ConfigJson? Object(string key) =>
        !TryGet(key, out var v) ? null
        : v.ValueKind == JsonValueKind.Object ? new ConfigJson(v, File, Name(key) + ".")
            : throw Bad(key, "an object", v);

    /// <summary>An error about <paramref name="key"/> of this object, for checks the caller makes on a value it
    /// read.</summary>
    public ConfigException Error(string key, string message) => new(File, Name(key), message);

    bool TryGet(string key, out JsonElement v) => obj.TryGetProperty(key, out v) && v.ValueKind != JsonValueKind.Null;

    string Name(string key) => prefix + key;

    ConfigException Bad(string key, string expected, JsonElement found) =>
        Error(key, $"must be {expected}, found {found.GetRawText()}");
}

/// <summary>A config value (or the config file itself, when <see cref="Key"/> is null) is invalid; the message names
/// the file and the key. (Like <see cref="SafetensorsException"/> it derives from <see cref="Exception"/>:
/// <see cref="InvalidDataException"/> is sealed.)</summary>
public sealed class ConfigException(string file, string? key, string message, Exception? inner = null)
    : Exception(key is null ? $"{file}: {message}" : $"{file}: key '{key}': {message}", inner)
{
    public string File { get; } = file;
    public string? Key { get; } = key;
}
