using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Flux2.IO;

namespace Flux2.Lora;

/// <summary>
/// The <c>lora_adapter_metadata</c> header entry of a diffusers/peft LoRA file (docs/flux2-model.md §7.2): the PEFT
/// LoraConfig with every key prefixed <c>transformer.</c>. PEFT scales each module by alpha/r, with per-module
/// overrides in <c>alpha_pattern</c>/<c>rank_pattern</c> (keys match a module name or a dotted suffix of it). Writing:
/// r is the most common rank, lora_alpha the most common scale·rank, and only modules that differ get pattern entries,
/// so a LoRA with one scale (any trainer run) has empty patterns and an alpha that means what the trainer's alpha
/// meant; mixed scales (a merge, a converted file) stay exact instead of being baked into B.
/// </summary>
public sealed class PeftAdapterMetadata
{
    public const string Key = "lora_adapter_metadata";
    const string Prefix = "transformer.";

    public double? Alpha { get; init; }
    public long? Rank { get; init; }
    public IReadOnlyDictionary<string, double> AlphaPattern { get; init; } = new Dictionary<string, double>();
    public IReadOnlyDictionary<string, long> RankPattern { get; init; } = new Dictionary<string, long>();

    /// <summary>PEFT's scale for <paramref name="module"/> (diffusers name without <c>transformer.</c>); no alpha
    /// anywhere means scale 1 (alpha = r).</summary>
    public double Scale(string module, long tensorRank)
    {
        double? alpha = Match(AlphaPattern, module) ?? Alpha;
        if (alpha is null) return 1.0;
        long r = Match(RankPattern, module) is { } pr ? (long)pr : Rank ?? tensorRank;
        return alpha.Value / r;
    }

    /// <summary>PEFT's pattern rule: the key is the whole module name or a suffix after a dot.</summary>
    static double? Match<T>(IReadOnlyDictionary<string, T> pattern, string module) where T : struct, IConvertible
    {
        foreach (var (key, value) in pattern)
            if (Regex.IsMatch(module, $@"^(.*\.)?({key})$", RegexOptions.CultureInvariant))
                return value.ToDouble(CultureInfo.InvariantCulture);
        return null;
    }

    /// <summary>The config in the header of <paramref name="path"/>, or null when it has none. A header that is not
    /// a JSON object, a rank that is not a positive integer or an alpha that is not a finite non-negative number is
    /// refused (<see cref="SafetensorsException"/>): PEFT would scale by alpha/r with it.</summary>
    public static PeftAdapterMetadata? FromHeader(IReadOnlyDictionary<string, string> header, string path)
    {
        if (!header.TryGetValue(Key, out var json)) return null;
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject
                ?? throw new SafetensorsException(path, null, $"__metadata__['{Key}'] is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(path, null, $"__metadata__['{Key}'] is not valid JSON ({e.Message})");
        }
        JsonNode? Get(string name) => root[Prefix + name] ?? root[name];
        var alpha = Get("lora_alpha") is { } a ? AlphaValue(path, "lora_alpha", a) : (double?)null;
        var rank = Get("r") is { } r ? RankValue(path, "r", r) : (long?)null;
        return new PeftAdapterMetadata
        {
            Alpha = alpha,
            Rank = rank,
            AlphaPattern = Pattern(path, "alpha_pattern", Get("alpha_pattern"), AlphaValue),
            RankPattern = Pattern(path, "rank_pattern", Get("rank_pattern"), RankValue),
        };
    }

    static double AlphaValue(string path, string key, JsonNode node)
        => node is JsonValue v && v.TryGetValue<double>(out var x) && double.IsFinite(x) && x >= 0 ? x
            : throw Bad(path, key, node, "a finite number >= 0");

    static long RankValue(string path, string key, JsonNode node)
        => node is JsonValue v && v.TryGetValue<long>(out var x) && x > 0 ? x
            : throw Bad(path, key, node, "a positive integer");

    static Dictionary<string, T> Pattern<T>(string path, string key, JsonNode? node,
        Func<string, string, JsonNode, T> value)
    {
        if (node is null) return new Dictionary<string, T>();
        if (node is not JsonObject o) throw Bad(path, key, node, "an object of module name -> value");
        foreach (var (name, _) in o)
        {
            try { _ = new Regex($"^(.*\\.)?({name})$", RegexOptions.CultureInvariant); }
            catch (ArgumentException) { throw Bad(path, key, JsonValue.Create(name), "a module name or pattern"); }
        }
        return o.ToDictionary(kv => kv.Key, kv => value(path, $"{key}['{kv.Key}']", kv.Value!));
    }

    static SafetensorsException Bad(string path, string key, JsonNode? node, string expected)
        => new(path, null, $"{Key}: '{key}' must be {expected}, got {node?.ToJsonString() ?? "null"}");

    /// <summary>The JSON for <paramref name="updates"/>: exact per-module scales through r, lora_alpha and the
    /// patterns.</summary>
    public static string Build(IReadOnlyList<LoraUpdate> updates)
    {
        var modules = updates.Select(u => (name: u.Module, rank: u.Down.shape[0], alpha: u.Scale * u.Down.shape[0]))
            .ToList();
        long r = modules.GroupBy(m => m.rank).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        double alpha = modules.GroupBy(m => m.alpha).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        var rankPattern = new JsonObject();
        var alphaPattern = new JsonObject();
        foreach (var m in modules)
        {
            if (m.rank != r) rankPattern[m.name] = m.rank;
            if (m.alpha != alpha) alphaPattern[m.name] = m.alpha;
        }
        var config = new JsonObject
        {
            [Prefix + "peft_type"] = "LORA",
            [Prefix + "r"] = r,
            [Prefix + "lora_alpha"] = alpha,
            [Prefix + "rank_pattern"] = rankPattern,
            [Prefix + "alpha_pattern"] = alphaPattern,
            [Prefix + "target_modules"] = new JsonArray(modules.Select(m => (JsonNode)JsonValue.Create(m.name)!)
                .ToArray()),
            [Prefix + "lora_dropout"] = 0.0,
            [Prefix + "bias"] = "none",
            [Prefix + "use_dora"] = false,
            [Prefix + "use_rslora"] = false,
            [Prefix + "fan_in_fan_out"] = false,
            [Prefix + "init_lora_weights"] = true,
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
