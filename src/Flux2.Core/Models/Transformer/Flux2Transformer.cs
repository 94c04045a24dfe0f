using Flux2.Nn;
using Flux2.Nn.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Models.Transformer;

/// <summary>
/// The FLUX.2 rectified-flow transformer (diffusers <c>Flux2Transformer2DModel</c>, BFL flux2 <c>Flux2</c>).
/// Field names are the diffusers checkpoint names, so <see cref="Nn.ModuleLoader"/> maps weights 1:1 (loading:
/// <see cref="Flux2TransformerFiles"/>).
/// Any size from a <see cref="TransformerConfig"/>; built directly on the given
/// device and dtype, each block on the device <c>blockDevice</c> picks for it.
/// <para>With a <see cref="QuantType"/>, every Linear of the blocks and the context embedder is built with quantized
/// storage (the loader quantizes the checkpoint's tensors into it one by one). Two groups stay in <c>dtype</c>:
/// x_embedder and proj_out, the first and last maps of the latent, small (128 x 6144), where every error lands on the
/// predicted velocity directly; and the conditioning path (timestep/guidance embedders, the three shared modulations,
/// the final adaLN; 0.7 B parameters, +0.7 GiB over 8-bit): FLUX.2 computes one modulation for all blocks, so a
/// rounding error there shifts, scales and gates every block the same way instead of averaging out.</para>
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

    /// <summary>Runs the blocks: plainly by default; gradient checkpointing, layer offloading and checkpoint input
    /// offloading are set on it (<see cref="BlockRunner"/>).</summary>
    public BlockRunner Runner { get; set; } = new();

    /// <param name="blockDevice">Where block i (numbered double-stream, then single-stream) is built, when not on
    /// <paramref name="device"/>: layer offloading builds its blocks in CPU memory
    /// (<see cref="TransformerOffloading.Build"/>).</param>
    public Flux2Transformer(TransformerConfig config, Device? device = null, ScalarType? dtype = null,
                            QuantType? quant = null, Func<int, Device?>? blockDevice = null)
        : base(nameof(Flux2Transformer))
    {
        config.Validate();
        Config = config;
        int d = config.InnerDim;
        x_embedder = new Linear(config.InChannels, d, device: device, dtype: dtype);
        context_embedder = new Linear(config.JointAttentionDim, d, device: device, dtype: dtype, quant: quant);
        time_guidance_embed = new TimestepGuidanceEmbedding(config, device, dtype);
        double_stream_modulation_img = new Modulation(d, 2, device, dtype);
        double_stream_modulation_txt = new Modulation(d, 2, device, dtype);
        single_stream_modulation = new Modulation(d, 1, device, dtype);
        Device? BlockDevice(int i) => blockDevice?.Invoke(i) ?? device;
        transformer_blocks = new ModuleList<DoubleStreamBlock>(Enumerable.Range(0, config.NumLayers)
            .Select(i => new DoubleStreamBlock(config, BlockDevice(i), dtype, quant)).ToArray());
        single_transformer_blocks = new ModuleList<SingleStreamBlock>(Enumerable.Range(0, config.NumSingleLayers)
            .Select(i => new SingleStreamBlock(config, BlockDevice(config.NumLayers + i), dtype, quant)).ToArray());
        norm_out = new AdaLayerNormOut(d, config.Eps, device, dtype);
        proj_out = new Linear(d, config.OutChannels, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The device of the resident weights (where inputs go and outputs come from).</summary>
    public Device Device => x_embedder.weight.device;

    /// <summary>The blocks in execution order: double-stream, then single-stream.</summary>
    public IReadOnlyList<nn.Module> Blocks =>
        transformer_blocks.Cast<nn.Module>().Concat(single_transformer_blocks).ToList();

    /// <summary>
    /// Velocity prediction. hidden [B, Ni, in_channels] (noisy image tokens, then any reference-image tokens),
    /// context [B, Nt, joint_attention_dim], timestep [B] = sigma in 0..1, guidance [B] = raw scale (or null for
    /// models without a guidance embedder), imgIds [Ni, 4] / txtIds [Nt, 4] (a leading batch dim is allowed; only
    /// element 0 is used, as in BFL's and diffusers' code). Returns [B, Ni, out_channels].
    /// </summary>
    public Tensor Forward(Tensor hidden, Tensor context, Tensor timestep, Tensor? guidance, Tensor imgIds,
                          Tensor txtIds)
    {
        CheckInputs(hidden, context, imgIds, txtIds);
        using var scope = NewDisposeScope();
        var dtype = hidden.dtype;
        // Both scalars are cast to the activation dtype before the x1000, as diffusers does.
        var temb = time_guidance_embed.Forward(timestep.to(dtype) * 1000,
                                               guidance is null ? null : guidance.to(dtype) * 1000);
        var modImg = double_stream_modulation_img.Forward(temb);
        var modTxt = double_stream_modulation_txt.Forward(temb);
        var modSingle = single_stream_modulation.Forward(temb)[0];

        var img = x_embedder.forward(hidden);
        var txt = context_embedder.forward(context);
        if (imgIds.dim() == 3) imgIds = imgIds[0];
        if (txtIds.dim() == 3) txtIds = txtIds[0];
        var (cos, sin) = RoPE.Table(cat(new[] { txtIds, imgIds }, 0), Config.AxesDimsRope, Config.RopeTheta);

        // Each block's hidden-state inputs are disposed as soon as the next block has them: the only other holder is a
        // checkpoint, which may move them off the GPU.
        int index = 0;
        foreach (var block in transformer_blocks)
        {
            var inputs = new DoubleBlockInputs(img, txt, modImg, modTxt, cos, sin);
            var outputs = Runner.Run(index++, block, inputs, block.Forward);
            img.Dispose(); txt.Dispose();
            (txt, img) = (outputs[0], outputs[1]);
        }
        long nt = txt.shape[1];
        var x = cat(new[] { txt, img }, 1);
        img.Dispose(); txt.Dispose();
        foreach (var block in single_transformer_blocks)
        {
            var output = Runner.Run(index++, block, new SingleBlockInputs(x, modSingle, cos, sin), block.Forward)[0];
            x.Dispose();
            x = output;
        }
        x = x[.., (int)nt..];
        return proj_out.forward(norm_out.Forward(x, temb)).MoveToOuterDisposeScope();
    }

    void CheckInputs(Tensor hidden, Tensor context, Tensor imgIds, Tensor txtIds)
    {
        static string Shape(Tensor t) => string.Join(", ", t.shape);
        if (hidden.dim() != 3 || hidden.shape[2] != Config.InChannels)
            throw new ArgumentException(
                $"hidden states must be [B, tokens, {Config.InChannels}], got [{Shape(hidden)}]");
        if (context.dim() != 3 || context.shape[2] != Config.JointAttentionDim)
            throw new ArgumentException(
                $"text embeddings must be [B, tokens, {Config.JointAttentionDim}], got [{Shape(context)}]");
        if (imgIds.shape[^2] != hidden.shape[1] || txtIds.shape[^2] != context.shape[1]
            || imgIds.shape[^1] != 4 || txtIds.shape[^1] != 4)
            throw new ArgumentException("position ids must be [tokens, 4] matching the streams: " +
                $"img ids [{Shape(imgIds)}] for {hidden.shape[1]} tokens, " +
                $"txt ids [{Shape(txtIds)}] for {context.shape[1]} tokens");
    }
}
