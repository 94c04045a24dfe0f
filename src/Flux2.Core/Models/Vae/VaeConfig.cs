using Flux2.IO;

namespace Flux2.Models.Vae;

/// <summary>
/// Configuration of <see cref="AutoencoderKLFlux2"/>, mirroring diffusers' <c>vae/config.json</c>. Defaults are the
/// production FLUX.2-dev VAE (docs/flux2-model.md §5.1); <see cref="Tiny"/> is the parity-fixture size. Read a
/// folder's file with <see cref="FromJson(string)"/>.
/// </summary>
public sealed record VaeConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    /// <summary>Encoder channels per level (BFL ch=128, ch_mult [1,2,4,4]).</summary>
    public int[] BlockOutChannels { get; init; } = [128, 256, 512, 512];
    /// <summary>Decoder channels per level; null = same as <see cref="BlockOutChannels"/> (diffusers
    /// behaviour).</summary>
    public int[]? DecoderBlockOutChannels { get; init; }
    public string[] DownBlockTypes { get; init; } = ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D",
        "DownEncoderBlock2D"];
    public string[] UpBlockTypes { get; init; } = ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D",
        "UpDecoderBlock2D"];
    /// <summary>ResNets per encoder level; the decoder uses one more per level (§5.1).</summary>
    public int LayersPerBlock { get; init; } = 2;
    /// <summary>Channels of z (BFL z_channels). The encoder emits 2× this (mean, logvar).</summary>
    public int LatentChannels { get; init; } = 32;
    public int NormNumGroups { get; init; } = 32;
    public string ActFn { get; init; } = "silu";
    public bool UseQuantConv { get; init; } = true;
    public bool UsePostQuantConv { get; init; } = true;
    public bool MidBlockAddAttention { get; init; } = true;
    /// <summary>Latent patchify size (§3.1); the BatchNorm tracks prod(patch) × latent channels.</summary>
    public int[] PatchSize { get; init; } = [2, 2];
    public double BatchNormEps { get; init; } = 1e-4;
    public double BatchNormMomentum { get; init; } = 0.1;
    /// <summary>Only used by tiled decoding in diffusers; kept for round-tripping.</summary>
    public int SampleSize { get; init; } = 1024;
    public bool ForceUpcast { get; init; } = true;

    /// <summary>GroupNorm epsilon of every ResNet / attention / output norm (diffusers resnet_eps, §5.1).</summary>
    public const double GroupNormEps = 1e-6;

    public int[] DecoderChannels => DecoderBlockOutChannels ?? BlockOutChannels;
    /// <summary>Channels of the BatchNorm over patchified latents (128 for FLUX.2-dev).</summary>
    public int PatchifiedChannels => PatchSize[0] * PatchSize[1] * LatentChannels;
    /// <summary>Spatial downscale of the VAE: 2^(levels-1) (8 for FLUX.2-dev).</summary>
    public int ScaleFactor => 1 << (BlockOutChannels.Length - 1);

    /// <summary>The FLUX.2-dev VAE (all defaults).</summary>
    public static VaeConfig Dev => new();

    /// <summary>The flux2-tiny parity fixture: 2 levels of 8/16 channels, 1 layer per block, 4 groups, 4 latent
    /// channels.</summary>
    public static VaeConfig Tiny => new()
    {
        BlockOutChannels = [8, 16],
        DownBlockTypes = ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        UpBlockTypes = ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        LayersPerBlock = 1,
        LatentChannels = 4,
        NormNumGroups = 4,
        SampleSize = 32,
    };

    /// <summary>Reads a diffusers <c>vae/config.json</c>: missing keys keep the FLUX.2-dev defaults, unknown keys
    /// (e.g. <c>_class_name</c>, <c>scaling_factor</c>) are ignored, a value of the wrong type or range fails with a
    /// <see cref="ConfigException"/> naming the file and key.</summary>
    public static VaeConfig FromJson(string path) => FromJson(ConfigJson.Load(path));

    public static VaeConfig FromJson(ConfigJson r)
    {
        var d = new VaeConfig();
        var cfg = d with
        {
            InChannels = r.Int("in_channels", d.InChannels),
            OutChannels = r.Int("out_channels", d.OutChannels),
            BlockOutChannels = r.Ints("block_out_channels", d.BlockOutChannels),
            DecoderBlockOutChannels = r.Ints("decoder_block_out_channels", null),
            LayersPerBlock = r.Int("layers_per_block", d.LayersPerBlock),
            LatentChannels = r.Int("latent_channels", d.LatentChannels),
            NormNumGroups = r.Int("norm_num_groups", d.NormNumGroups),
            ActFn = r.String("act_fn", d.ActFn),
            UseQuantConv = r.Bool("use_quant_conv", d.UseQuantConv),
            UsePostQuantConv = r.Bool("use_post_quant_conv", d.UsePostQuantConv),
            MidBlockAddAttention = r.Bool("mid_block_add_attention", d.MidBlockAddAttention),
            PatchSize = r.Ints("patch_size", d.PatchSize),
            BatchNormEps = r.Double("batch_norm_eps", d.BatchNormEps),
            BatchNormMomentum = r.Double("batch_norm_momentum", d.BatchNormMomentum),
            SampleSize = r.Int("sample_size", d.SampleSize),
            ForceUpcast = r.Bool("force_upcast", d.ForceUpcast),
        };
        // Block types default to one per level of the (possibly overridden) channel list.
        cfg = cfg with
        {
            DownBlockTypes = r.Strings("down_block_types", null) ?? Enumerable.Repeat("DownEncoderBlock2D",
                cfg.BlockOutChannels.Length).ToArray(),
            UpBlockTypes = r.Strings("up_block_types", null) ?? Enumerable.Repeat("UpDecoderBlock2D",
                cfg.DecoderChannels.Length).ToArray(),
        };
        cfg.Validate(r.File);
        return cfg;
    }

    /// <summary>Checks the values the model constructors rely on; <paramref name="origin"/> names the source in
    /// errors.</summary>
    public void Validate(string origin = "VaeConfig")
    {
        void Fail(string key, string msg) => throw new ConfigException(origin, key, msg);
        if (InChannels <= 0) Fail("in_channels", $"must be positive, got {InChannels}");
        if (OutChannels <= 0) Fail("out_channels", $"must be positive, got {OutChannels}");
        if (BlockOutChannels.Length == 0) Fail("block_out_channels", "must list at least one level");
        foreach (var (key, chans) in new[] { ("block_out_channels", BlockOutChannels),
            ("decoder_block_out_channels", DecoderChannels) })
            foreach (var c in chans)
                if (c <= 0 || c % NormNumGroups != 0)
                    Fail(key, $"every entry must be a positive multiple of norm_num_groups={NormNumGroups}, got {c}");
        if (DecoderChannels.Length != BlockOutChannels.Length)
            Fail("decoder_block_out_channels",
                $"must have {BlockOutChannels.Length} entries like block_out_channels, got {DecoderChannels.Length}");
        if (DownBlockTypes.Length != BlockOutChannels.Length)
            Fail("down_block_types",
                $"must have one entry per block_out_channels level ({BlockOutChannels.Length}), got " +
                $"{DownBlockTypes.Length}");
        if (UpBlockTypes.Length != DecoderChannels.Length)
            Fail("up_block_types",
                $"must have one entry per level ({DecoderChannels.Length}), got {UpBlockTypes.Length}");
        foreach (var t in DownBlockTypes)
            if (t != "DownEncoderBlock2D") Fail("down_block_types", $"only DownEncoderBlock2D is supported, got '{t}'");
        foreach (var t in UpBlockTypes)
            if (t != "UpDecoderBlock2D") Fail("up_block_types", $"only UpDecoderBlock2D is supported, got '{t}'");
        if (LayersPerBlock <= 0) Fail("layers_per_block", $"must be positive, got {LayersPerBlock}");
        if (LatentChannels <= 0) Fail("latent_channels", $"must be positive, got {LatentChannels}");
        if (NormNumGroups <= 0) Fail("norm_num_groups", $"must be positive, got {NormNumGroups}");
        if (ActFn != "silu") Fail("act_fn", $"only 'silu' is supported (FLUX.2 VAE), got '{ActFn}'");
        if (PatchSize.Length != 2 || PatchSize[0] <= 0 || PatchSize[1] <= 0)
            Fail("patch_size", $"must be two positive integers, got [{string.Join(", ", PatchSize)}]");
        if (!(BatchNormEps > 0)) Fail("batch_norm_eps", $"must be positive, got {BatchNormEps}");
    }
}
