using Flux2.IO;

namespace Flux2.Models.Transformer;

/// <summary>
/// Shape of a FLUX.2 rectified-flow transformer (diffusers <c>Flux2Transformer2DModel</c> config names).
/// Defaults are FLUX.2 [dev] (docs/flux2-model.md §2.1); presets for klein and a tiny debug size.
/// </summary>
public sealed record TransformerConfig
{
    public int PatchSize { get; init; } = 1;
    public int InChannels { get; init; } = 128;
    public int? OutChannelsOverride { get; init; }
    public int NumLayers { get; init; } = 8;            // double-stream blocks
    public int NumSingleLayers { get; init; } = 48;
    public int AttentionHeadDim { get; init; } = 128;
    public int NumAttentionHeads { get; init; } = 48;
    public int JointAttentionDim { get; init; } = 15360; // 3 Mistral layers x 5120
    public int TimestepGuidanceChannels { get; init; } = 256;
    public double MlpRatio { get; init; } = 3.0;
    public int[] AxesDimsRope { get; init; } = { 32, 32, 32, 32 };
    public double RopeTheta { get; init; } = 2000;
    public double Eps { get; init; } = 1e-6;
    public bool GuidanceEmbeds { get; init; } = true;

    public int InnerDim => NumAttentionHeads * AttentionHeadDim;
    public int OutChannels => OutChannelsOverride ?? InChannels;
    public int MlpHidden => (int)(InnerDim * MlpRatio);

    public static TransformerConfig Dev => new();
    public static TransformerConfig Klein4B => new()
    {
        NumLayers = 5,
        NumSingleLayers = 20,
        NumAttentionHeads = 24,
        JointAttentionDim = 7680,
        GuidanceEmbeds = false
    };
    public static TransformerConfig Klein9B => new()
    {
        NumLayers = 8,
        NumSingleLayers = 24,
        NumAttentionHeads = 32,
        JointAttentionDim = 12288,
        GuidanceEmbeds = false
    };
    /// <summary>Debug size in the spirit of diffusers' tests: seconds on a CPU.</summary>
    public static TransformerConfig Tiny => new()
    {
        InChannels = 16,
        NumLayers = 2,
        NumSingleLayers = 2,
        AttentionHeadDim = 16,
        NumAttentionHeads = 4,
        JointAttentionDim = 48,
        AxesDimsRope = new[] { 4, 4, 4, 4 }
    };

    public static TransformerConfig ByName(string name) => name.ToLowerInvariant() switch
    {
        "dev" or "flux2-dev" => Dev,
        "klein-4b" or "klein4b" => Klein4B,
        "klein-9b" or "klein9b" => Klein9B,
        "tiny" => Tiny,
        _ => throw new UserError($"unknown transformer preset '{name}' (known: dev, klein-4b, klein-9b, tiny)"),
    };

    /// <summary>Parameters implied by the config (docs/flux2-model.md §2.10), without building anything.</summary>
    public long ParameterCount()
    {
        long d = InnerDim, m = MlpHidden, hd = AttentionHeadDim;
        long top = d * InChannels + d * JointAttentionDim
                   + (d * TimestepGuidanceChannels + d * d) * (GuidanceEmbeds ? 2 : 1)
                   + 2 * (6 * d * d) + 3 * d * d + 2 * d * d + (long)OutChannels * d;
        long dbl = 8 * d * d + 4 * hd + 6 * m * d;          // two streams: q,k,v,out + SwiGLU ff each; 4 QK norms
        long single = (3 * d + 2 * m) * d + (d + m) * d + 2 * hd;
        return top + NumLayers * dbl + NumSingleLayers * single;
    }

    public void Validate(string origin = "transformer config")
    {
        void Fail(string key, string why) => throw new ConfigException(origin, key, why);
        if (AxesDimsRope.Sum() != AttentionHeadDim) Fail("axes_dims_rope",
            $"sums to {AxesDimsRope.Sum()} but attention_head_dim is {AttentionHeadDim} (they must match)");
        if (AxesDimsRope.Length != 4)
            Fail("axes_dims_rope", $"has {AxesDimsRope.Length} axes; FLUX.2 position ids have 4 (T, H, W, L)");
        if (AxesDimsRope.Any(a => a % 2 != 0)) Fail("axes_dims_rope", "entries must be even (rotary pairs)");
        if (PatchSize != 1) Fail("patch_size", $"is {PatchSize}; FLUX.2 patchifies in the VAE space and uses 1 here");
        foreach (var (k, v) in new[] { ("in_channels", InChannels), ("num_attention_heads", NumAttentionHeads),
            ("attention_head_dim", AttentionHeadDim), ("joint_attention_dim", JointAttentionDim) })
            if (v <= 0) Fail(k, "must be positive");
        if (NumLayers < 0 || NumSingleLayers < 0) Fail("num_layers", "must not be negative");
    }

    /// <summary>Reads a diffusers <c>transformer/config.json</c>; absent keys keep the FLUX.2-dev defaults.</summary>
    public static TransformerConfig FromJson(string path) => FromJson(ConfigJson.Load(path));

    public static TransformerConfig FromJson(ConfigJson r)
    {
        var c = new TransformerConfig();
        c = c with
        {
            PatchSize = r.Int("patch_size", c.PatchSize),
            InChannels = r.Int("in_channels", c.InChannels),
            OutChannelsOverride = r.NullableInt("out_channels"),
            NumLayers = r.Int("num_layers", c.NumLayers),
            NumSingleLayers = r.Int("num_single_layers", c.NumSingleLayers),
            AttentionHeadDim = r.Int("attention_head_dim", c.AttentionHeadDim),
            NumAttentionHeads = r.Int("num_attention_heads", c.NumAttentionHeads),
            JointAttentionDim = r.Int("joint_attention_dim", c.JointAttentionDim),
            TimestepGuidanceChannels = r.Int("timestep_guidance_channels", c.TimestepGuidanceChannels),
            MlpRatio = r.Double("mlp_ratio", c.MlpRatio),
            AxesDimsRope = r.Ints("axes_dims_rope", c.AxesDimsRope),
            RopeTheta = r.Double("rope_theta", c.RopeTheta),
            Eps = r.Double("eps", c.Eps),
            GuidanceEmbeds = r.Bool("guidance_embeds", c.GuidanceEmbeds),
        };
        c.Validate(r.File);
        return c;
    }
}
