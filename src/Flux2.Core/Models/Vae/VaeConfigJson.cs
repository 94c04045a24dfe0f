using System.Text.Json;

namespace Flux2.Models.Vae;

/// <summary>
/// Reads a diffusers <c>vae/config.json</c> into a <see cref="VaeConfig"/>: missing keys keep the FLUX.2-dev defaults,
/// unknown keys (e.g. <c>_class_name</c>, <c>scaling_factor</c>) are ignored, a value of the wrong type or range fails
/// with the file and key named.
/// </summary>
public static class VaeConfigJson
{
    public static VaeConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"VAE config not found: {path}", path);
        return Parse(File.ReadAllText(path), path);
    }

    public static VaeConfig Parse(string json, string origin = "config.json")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw new VaeConfigException(origin, "(file)", $"not valid JSON: {e.Message}"); }
        using var _ = doc;
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new VaeConfigException(origin, "(file)", "the top level must be a JSON object");

        var r = new Reader(root, origin);
        var d = new VaeConfig();
        var cfg = d with
        {
            InChannels = r.Int("in_channels", d.InChannels),
            OutChannels = r.Int("out_channels", d.OutChannels),
            BlockOutChannels = r.Ints("block_out_channels", d.BlockOutChannels)!,
            DecoderBlockOutChannels = r.Ints("decoder_block_out_channels", null),
            LayersPerBlock = r.Int("layers_per_block", d.LayersPerBlock),
            LatentChannels = r.Int("latent_channels", d.LatentChannels),
            NormNumGroups = r.Int("norm_num_groups", d.NormNumGroups),
            ActFn = r.String("act_fn", d.ActFn),
            UseQuantConv = r.Bool("use_quant_conv", d.UseQuantConv),
            UsePostQuantConv = r.Bool("use_post_quant_conv", d.UsePostQuantConv),
            MidBlockAddAttention = r.Bool("mid_block_add_attention", d.MidBlockAddAttention),
            PatchSize = r.Ints("patch_size", d.PatchSize)!,
            BatchNormEps = r.Double("batch_norm_eps", d.BatchNormEps),
            BatchNormMomentum = r.Double("batch_norm_momentum", d.BatchNormMomentum),
            SampleSize = r.Int("sample_size", d.SampleSize),
            ForceUpcast = r.Bool("force_upcast", d.ForceUpcast),
        };
        // Block types default to one per level of the (possibly overridden) channel list.
        cfg = cfg with
        {
            DownBlockTypes = r.Strings("down_block_types") ?? Enumerable.Repeat("DownEncoderBlock2D", cfg.BlockOutChannels.Length).ToArray(),
            UpBlockTypes = r.Strings("up_block_types") ?? Enumerable.Repeat("UpDecoderBlock2D", cfg.DecoderChannels.Length).ToArray(),
        };
        cfg.Validate(origin);
        return cfg;
    }

    /// <summary>Typed access to optional keys; null/absent -> default, wrong type -> <see cref="VaeConfigException"/>.</summary>
    sealed class Reader(JsonElement root, string origin)
    {
        bool TryGet(string key, out JsonElement e) =>
            root.TryGetProperty(key, out e) && e.ValueKind != JsonValueKind.Null;

        VaeConfigException Bad(string key, string expected, JsonElement e) =>
            new(origin, key, $"expected {expected}, got {e.ValueKind} {e.GetRawText()}");

        public int Int(string key, int dflt)
        {
            if (!TryGet(key, out var e)) return dflt;
            return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) ? v : throw Bad(key, "an integer", e);
        }

        public double Double(string key, double dflt)
        {
            if (!TryGet(key, out var e)) return dflt;
            return e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Bad(key, "a number", e);
        }

        public bool Bool(string key, bool dflt)
        {
            if (!TryGet(key, out var e)) return dflt;
            return e.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Bad(key, "true or false", e) };
        }

        public string String(string key, string dflt)
        {
            if (!TryGet(key, out var e)) return dflt;
            return e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Bad(key, "a string", e);
        }

        public int[]? Ints(string key, int[]? dflt)
        {
            if (!TryGet(key, out var e)) return dflt;
            if (e.ValueKind != JsonValueKind.Array) throw Bad(key, "a list of integers", e);
            return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var v) ? v : throw Bad(key, "a list of integers", e)).ToArray();
        }

        public string[]? Strings(string key)
        {
            if (!TryGet(key, out var e)) return null;
            if (e.ValueKind != JsonValueKind.Array) throw Bad(key, "a list of strings", e);
            return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Bad(key, "a list of strings", e)).ToArray();
        }
    }
}
