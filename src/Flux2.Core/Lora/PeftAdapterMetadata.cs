using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

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

    public static PeftAdapterMetadata? FromHeader(IReadOnlyDictionary<string, string> header)
    {
        if (!header.TryGetValue(Key, out var json)) return null;
        var root = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException($"{Key} is not a JSON object");
        JsonNode? Get(string name) => root[Prefix + name] ?? root[name];
        return new PeftAdapterMetadata
        {
            Alpha = Get("lora_alpha") is JsonValue a && a.TryGetValue<double>(out var av) ? av : null,
            Rank = Get("r") is JsonValue r && r.TryGetValue<long>(out var rv) ? rv : null,
            AlphaPattern = Numbers(Get("alpha_pattern")).ToDictionary(kv => kv.Key, kv => kv.Value),
            RankPattern = Numbers(Get("rank_pattern")).ToDictionary(kv => kv.Key, kv => (long)kv.Value),
        };
    }

    static IEnumerable<KeyValuePair<string, double>> Numbers(JsonNode? node) => node is JsonObject o
        ? o.Where(kv => kv.Value is JsonValue v && v.TryGetValue<double>(out _))
            .Select(kv => KeyValuePair.Create(kv.Key, kv.Value!.GetValue<double>()))
        : Enumerable.Empty<KeyValuePair<string, double>>();

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
