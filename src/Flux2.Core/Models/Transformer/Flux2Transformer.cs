using Flux2.IO;
using Flux2.Nn;
using TorchSharp;
using TorchSharp.Modules;
using Linear = Flux2.Nn.Linear;
using static TorchSharp.torch;
using F = Flux2.Nn.Functional;

namespace Flux2.Models.Transformer;

/// <summary>
/// The FLUX.2 rectified-flow transformer (diffusers <c>Flux2Transformer2DModel</c>; reference §2). Field names are the
/// diffusers checkpoint names, so <see cref="ModuleLoader"/> maps weights 1:1. Any size from a
/// <see cref="TransformerConfig"/>; built directly on the given device and dtype.
/// </summary>
public sealed class Flux2Transformer : nn.Module
{
    public TransformerConfig Config { get; }
    public Linear x_embedder, context_embedder, proj_out;
    public TimestepGuidanceEmbedding time_guidance_embed;
    public Modulation double_stream_modulation_img, double_stream_modulation_txt, single_stream_modulation;
    public ModuleList<DoubleStreamBlock> transformer_blocks;
    public ModuleList<SingleStreamBlock> single_transformer_blocks;
    public AdaLayerNormOut norm_out;

    /// <summary>Told before and after each block runs (layer offloading streams weights in); null: all resident.</summary>
    public IBlockResidency? BlockResidency { get; set; }
    /// <summary>Recompute each block in the backward instead of keeping its activations.</summary>
    public bool GradientCheckpointing { get; set; }

    public Flux2Transformer(TransformerConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(Flux2Transformer))
    {
        config.Validate();
        Config = config;
        int d = config.InnerDim;
        x_embedder = new Linear(config.InChannels, d, device: device, dtype: dtype);
        context_embedder = new Linear(config.JointAttentionDim, d, device: device, dtype: dtype);
        time_guidance_embed = new TimestepGuidanceEmbedding(config, device, dtype);
        double_stream_modulation_img = new Modulation(d, 2, device, dtype);
        double_stream_modulation_txt = new Modulation(d, 2, device, dtype);
        single_stream_modulation = new Modulation(d, 1, device, dtype);
        transformer_blocks = new ModuleList<DoubleStreamBlock>(Enumerable.Range(0, config.NumLayers).Select(_ => new DoubleStreamBlock(config, device, dtype)).ToArray());
        single_transformer_blocks = new ModuleList<SingleStreamBlock>(Enumerable.Range(0, config.NumSingleLayers).Select(_ => new SingleStreamBlock(config, device, dtype)).ToArray());
        norm_out = new AdaLayerNormOut(d, config.Eps, device, dtype);
        proj_out = new Linear(d, config.OutChannels, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Loads a diffusers <c>transformer/</c> folder (config.json + safetensors, sharded or not).</summary>
    public static Flux2Transformer FromFolder(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"transformer config not found: {configPath}", configPath);
        return FromCheckpoint(folder, TransformerConfig.FromJson(configPath), device, dtype);
    }

    /// <summary>Loads weights in either layout (diffusers, or a BFL single file such as <c>flux2-dev.safetensors</c>,
    /// whose keys are mapped on the fly) into a model built from <paramref name="config"/>.</summary>
    public static Flux2Transformer FromCheckpoint(string path, TransformerConfig config, Device? device = null, ScalarType? dtype = null)
    {
        using var source = TransformerCheckpoint.Open(path);
        var model = new Flux2Transformer(config, device, dtype);
        try { ModuleLoader.Load(model, source); }
        catch { model.Dispose(); throw; }
        return model;
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>
    /// Velocity prediction. hidden [B, Ni, in_channels] (noisy image tokens, then any reference tokens),
    /// context [B, Nt, joint_attention_dim], timestep [B] = sigma in 0..1, guidance [B] = raw scale (or null for
    /// models without a guidance embedder), imgIds [Ni, 4] / txtIds [Nt, 4] (a leading batch dim is allowed; only
    /// element 0 is used, as in the reference). Returns [B, Ni, out_channels].
    /// </summary>
    public Tensor Forward(Tensor hidden, Tensor context, Tensor timestep, Tensor? guidance, Tensor imgIds, Tensor txtIds)
    {
        CheckInputs(hidden, context, imgIds, txtIds);
        using var scope = NewDisposeScope();
        var dtype = hidden.dtype;
        // Both scalars are cast to the activation dtype before the ×1000, as diffusers does (reference §2.12).
        var temb = time_guidance_embed.Forward(timestep.to(dtype) * 1000, guidance is null ? null : guidance.to(dtype) * 1000);
        var modImg = double_stream_modulation_img.Forward(temb);
        var modTxt = double_stream_modulation_txt.Forward(temb);
        var modSingle = single_stream_modulation.Forward(temb)[0];

        var img = x_embedder.forward(hidden);
        var txt = context_embedder.forward(context);
        if (imgIds.dim() == 3) imgIds = imgIds[0];
        if (txtIds.dim() == 3) txtIds = txtIds[0];
        var (cos, sin) = RoPE.Table(cat(new[] { txtIds, imgIds }, 0), Config.AxesDimsRope, Config.RopeTheta);

        int index = 0;
        foreach (var block in transformer_blocks)
        {
            BlockResidency?.Enter(index, recompute: false);
            (txt, img) = block.Forward(img, txt, modImg, modTxt, cos, sin);
            BlockResidency?.Exit(index++, recompute: false);
        }
        long nt = txt.shape[1];
        var x = cat(new[] { txt, img }, 1);
        foreach (var block in single_transformer_blocks)
        {
            BlockResidency?.Enter(index, recompute: false);
            x = block.Forward(x, modSingle, cos, sin);
            BlockResidency?.Exit(index++, recompute: false);
        }
        x = x[.., (int)nt..];
        return proj_out.forward(norm_out.Forward(x, temb)).MoveToOuterDisposeScope();
    }

    void CheckInputs(Tensor hidden, Tensor context, Tensor imgIds, Tensor txtIds)
    {
        if (hidden.dim() != 3 || hidden.shape[2] != Config.InChannels)
            throw new ArgumentException($"hidden states must be [B, tokens, {Config.InChannels}], got [{string.Join(", ", hidden.shape)}]");
        if (context.dim() != 3 || context.shape[2] != Config.JointAttentionDim)
            throw new ArgumentException($"text embeddings must be [B, tokens, {Config.JointAttentionDim}], got [{string.Join(", ", context.shape)}]");
        if (imgIds.shape[^2] != hidden.shape[1] || txtIds.shape[^2] != context.shape[1] || imgIds.shape[^1] != 4 || txtIds.shape[^1] != 4)
            throw new ArgumentException($"position ids must be [tokens, 4] matching the streams: img ids [{string.Join(", ", imgIds.shape)}] for {hidden.shape[1]} tokens, txt ids [{string.Join(", ", txtIds.shape)}] for {context.shape[1]} tokens");
    }
}

/// <summary>Final adaLN (diffusers <c>AdaLayerNormContinuous</c>): e = Linear(SiLU(temb)) split as (scale, shift) —
/// the BFL checkpoint stores (shift, scale), swapped on load (reference §2.8).</summary>
public sealed class AdaLayerNormOut : nn.Module
{
    readonly double eps;
    public Linear linear;

    public AdaLayerNormOut(int dim, double eps, Device? device, ScalarType? dtype) : base(nameof(AdaLayerNormOut))
    {
        this.eps = eps;
        linear = new Linear(dim, 2 * dim, device: device, dtype: dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var e = linear.forward(nn.functional.silu(temb)).chunk(2, 1);
        return F.Modulate(F.LayerNormNoAffine(x, eps), e[1].unsqueeze(1), e[0].unsqueeze(1)).MoveToOuterDisposeScope();
    }
}
