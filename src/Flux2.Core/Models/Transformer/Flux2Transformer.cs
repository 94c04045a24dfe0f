using Flux2.Nn.Quantization;
using Flux2.IO;
using Flux2.Nn;
using Flux2.Nn.Offload;
using TorchSharp;
using TorchSharp.Modules;
using Linear = Flux2.Nn.Linear;
using static TorchSharp.torch;
using F = Flux2.Nn.Functional;

namespace Flux2.Models.Transformer;

/// <summary>
/// The FLUX.2 rectified-flow transformer (diffusers <c>Flux2Transformer2DModel</c>; reference §2). Field names are the
/// diffusers checkpoint names, so <see cref="ModuleLoader"/> maps weights 1:1. Any size from a
/// <see cref="TransformerConfig"/>; built directly on the given device and dtype (all of it, or all but layer offloading's
/// blocks: see the constructor's <c>hostBlocks</c>).
/// <para>With a <see cref="QuantType"/>, every Linear of the blocks and the context embedder is built with 8-bit storage
/// (the loader quantizes the checkpoint's tensors into it one by one). Two groups stay in <c>dtype</c>: x_embedder and
/// proj_out — the first and last maps of the latent, small (128 x 6144), every error there lands on the predicted
/// velocity directly — and the conditioning path (timestep/guidance embedders, the three shared modulations, the
/// final adaLN; 0.7 B parameters, +0.7 GiB over 8-bit): FLUX.2 computes one modulation for all blocks (reference §2),
/// so a rounding error there shifts, scales and gates every block the same way instead of averaging out
/// (docs/performance.md: the whole-model error with and without).</para>
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

    /// <param name="hostBlocks">Blocks (numbered as in <see cref="IBlockResidency"/>: double-stream, then single-stream)
    /// built in CPU memory instead of on <paramref name="device"/>, their weights untouched <c>torch.empty</c> pages: layer
    /// offloading's blocks, which reach the GPU only one at a time through its slots (<see cref="Nn.Offload.BlockOffloader.Build"/>).</param>
    public Flux2Transformer(TransformerConfig config, Device? device = null, ScalarType? dtype = null, QuantType? quant = null,
                            IReadOnlyCollection<int>? hostBlocks = null) : base(nameof(Flux2Transformer))
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
        int blockCount = config.NumLayers + config.NumSingleLayers;
        if (hostBlocks is not null && hostBlocks.Any(i => i < 0 || i >= blockCount))
            throw new ArgumentOutOfRangeException(nameof(hostBlocks), $"host blocks [{string.Join(",", hostBlocks)}]: the model has blocks 0..{blockCount - 1}");
        Device? BlockDevice(int index) => hostBlocks?.Contains(index) == true ? CPU : device;
        transformer_blocks = new ModuleList<DoubleStreamBlock>(Enumerable.Range(0, config.NumLayers).Select(i => new DoubleStreamBlock(config, BlockDevice(i), dtype, quant)).ToArray());
        single_transformer_blocks = new ModuleList<SingleStreamBlock>(Enumerable.Range(0, config.NumSingleLayers).Select(i => new SingleStreamBlock(config, BlockDevice(config.NumLayers + i), dtype, quant)).ToArray());
        norm_out = new AdaLayerNormOut(d, config.Eps, device, dtype);
        proj_out = new Linear(d, config.OutChannels, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Loads a diffusers <c>transformer/</c> folder (config.json + safetensors, sharded or not); with
    /// <paramref name="quant"/>, quantized while loading (see the class remarks).</summary>
    public static Flux2Transformer FromFolder(string folder, Device? device = null, ScalarType? dtype = null, QuantType? quant = null)
        => FromCheckpoint(folder, FolderConfig(folder), device, dtype, quant);

    /// <summary>The <c>config.json</c> of a diffusers <c>transformer/</c> folder.</summary>
    public static TransformerConfig FolderConfig(string folder)
    {
        var configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"transformer config not found: {configPath}", configPath);
        return TransformerConfig.FromJson(configPath);
    }

    /// <summary>Loads weights in either layout (diffusers, or a BFL single file such as <c>flux2-dev.safetensors</c>,
    /// whose keys are mapped on the fly) into a model built from <paramref name="config"/>.</summary>
    public static Flux2Transformer FromCheckpoint(string path, TransformerConfig config, Device? device = null, ScalarType? dtype = null, QuantType? quant = null)
    {
        using var source = TransformerCheckpoint.Open(path);
        var model = new Flux2Transformer(config, device, dtype, quant);
        try { ModuleLoader.Load(model, source); }
        catch { model.Dispose(); throw; }
        return model;
    }

    /// <summary>Parameters of the whole model, layer offloading's blocks included: between uses their tensors are empty
    /// placeholders, so their sizes come from the offloader.</summary>
    public long ParameterCount()
    {
        long count = parameters().Sum(p => p.numel());
        if (Residency is not Nn.Offload.IOffloadedModules offloaded) return count;
        foreach (var block in transformer_blocks.Cast<nn.Module>().Concat(single_transformer_blocks).Where(offloaded.IsOffloaded))
        {
            var shapes = offloaded.ShapesOf(block);
            count += block.named_parameters().Sum(p => shapes[p.name].Aggregate(1L, (a, b) => a * b));
        }
        return count;
    }

    /// <summary>Recompute each block's activations in the backward pass instead of keeping them (issue 6; applies
    /// only while gradients are recorded): memory per block drops to its inputs, for one more forward per step.</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>With checkpointing, where the blocks' hidden-state inputs wait for the backward pass: in pinned host
    /// memory instead of on the GPU (~3 GiB for FLUX.2-dev at 1024²; <see cref="CheckpointInputOffloader"/>). Owned by
    /// whoever sets it.</summary>
    public CheckpointInputOffloader? CheckpointInputOffload { get; set; }

    /// <summary>Called around every block run, in the forward and, with checkpointing, in the backward recompute
    /// (layer offloading streams block weights with it). Blocks are numbered double 0..N-1, then single N..N+M-1.</summary>
    public IBlockResidency? Residency { get; set; }

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

        // Blocks read every tensor through their argument list, so a checkpointed block can be recomputed from
        // exactly these inputs: [img, txt, 6 image modulations, 6 text modulations, cos, sin] for a double block,
        // [x, 3 modulations, cos, sin] for a single block.
        // Each block's hidden-state inputs (img and txt, then x) are disposed as soon as the next block has them: the
        // only other holder is the checkpoint, which may move them off the GPU (CheckpointInputOffload).
        int index = 0;
        foreach (var block in transformer_blocks)
        {
            var outputs = RunBlock(index++, block, [img, txt, .. Flatten(modImg), .. Flatten(modTxt), cos, sin], [0, 1], t =>
            {
                var (tx, im) = block.Forward(t[0], t[1], Unflatten(t, 2, 2), Unflatten(t, 8, 2), t[14], t[15]);
                return [tx, im];
            });
            img.Dispose(); txt.Dispose();
            (txt, img) = (outputs[0], outputs[1]);
        }
        long nt = txt.shape[1];
        var x = cat(new[] { txt, img }, 1);
        img.Dispose(); txt.Dispose();
        foreach (var block in single_transformer_blocks)
        {
            var output = RunBlock(index++, block, [x, .. Flatten([modSingle]), cos, sin], [0], t => [block.Forward(t[0], Unflatten(t, 1, 1)[0], t[4], t[5])])[0];
            x.Dispose();
            x = output;
        }
        x = x[.., (int)nt..];
        return proj_out.forward(norm_out.Forward(x, temb)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One block run between the <see cref="Residency"/> hooks; with <see cref="GradientCheckpointing"/> and gradients
    /// enabled, through <see cref="GradientCheckpoint"/>, whose recompute in the backward pass gets the same hooks with
    /// <c>recompute</c> true, the block's LoRA dropout generators and its adapters' forward-time switches.
    /// <paramref name="hiddenStates"/>: the inputs nobody else keeps, which <see cref="CheckpointInputOffload"/> may move.
    /// </summary>
    Tensor[] RunBlock(int index, nn.Module block, Tensor[] inputs, int[] hiddenStates, Func<Tensor[], Tensor[]> run)
    {
        var residency = Residency;
        residency?.Enter(index, recompute: false);
        try
        {
            if (!GradientCheckpointing || !is_grad_enabled()) return run(inputs);
            return GradientCheckpoint.Run(run, inputs, new CheckpointHooks
            {
                Generators = LoraAdapterState.DropoutGenerators(block),
                CaptureState = () => LoraAdapterState.Capture(block),
                BeforeRecompute = residency is null ? null : () => residency.Enter(index, recompute: true),
                AfterBackward = residency is null ? null : () => residency.Exit(index, recompute: true),
                InputOffloader = CheckpointInputOffload,
                OffloadableInputs = hiddenStates,
            });
        }
        finally { residency?.Exit(index, recompute: false); }
    }

    static IEnumerable<Tensor> Flatten(ModulationParams[] mods) => mods.SelectMany(m => new[] { m.Shift, m.Scale, m.Gate });

    static ModulationParams[] Unflatten(Tensor[] t, int start, int sets) =>
        Enumerable.Range(0, sets).Select(i => new ModulationParams(t[start + 3 * i], t[start + 3 * i + 1], t[start + 3 * i + 2])).ToArray();

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

    public AdaLayerNormOut(int dim, double eps, Device? device, ScalarType? dtype, QuantType? quant = null) : base(nameof(AdaLayerNormOut))
    {
        this.eps = eps;
        linear = new Linear(dim, 2 * dim, device: device, dtype: dtype, quant: quant);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var e = linear.forward(nn.functional.silu(temb)).chunk(2, 1);
        return F.Modulate(F.LayerNormNoAffine(x, eps), e[1].unsqueeze(1), e[0].unsqueeze(1)).MoveToOuterDisposeScope();
    }
}
