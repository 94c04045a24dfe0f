using Flux2.IO;
using Flux2.IO.Hub;
using Flux2.Models;
using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Nn;
using Flux2.Nn.Offload;
using Flux2.Nn.Quantization;
using Flux2.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Pipeline;

/// <summary>
/// The four FLUX.2 components, loaded from what a user points at (never a pickle file):
/// <list type="bullet">
/// <item>a diffusers pipeline folder (<c>transformer/ vae/ text_encoder/ tokenizer/ scheduler/</c>; a BFL
/// <c>flux2-dev.safetensors</c> at the root stands in for a missing <c>transformer/</c>). A folder whose
/// text_encoder/config.json is a Qwen3 model is FLUX.2 [klein] (<see cref="IsKlein"/>): Qwen3 prompt template,
/// layers 9/18/27, and model_index.json's <c>is_distilled</c> decides between true CFG and few-step sampling;</item>
/// <item>a Hugging Face repo id already in the HF cache (e.g. <c>black-forest-labs/FLUX.2-dev</c>);</item>
/// <item><c>tiny-random</c>: the same classes at debug size with seeded random weights and a byte-level tokenizer,
/// for trying the whole loop anywhere in seconds.</item></list>
/// </summary>
public sealed class Flux2Models : IDisposable
{
    public const string TinyRandom = "tiny-random";
    public required string Origin { get; init; }
    public required Flux2Transformer Transformer { get; init; }
    public required AutoencoderKLFlux2 Vae { get; init; }
    public required Flux2PromptEncoder TextEncoder { get; init; }
    public required PromptTokenizer Tokenizer { get; init; }
    public required FlowMatchEulerScheduler Scheduler { get; init; }
    /// <summary>Layer offloading of the transformer's blocks when loaded with it (<c>layerOffloading</c>), else
    /// null.</summary>
    public BlockOffloader? Offloader { get; init; }
    /// <summary>model_index.json <c>is_distilled</c>: a step-distilled [klein], sampled without classifier-free
    /// guidance (the guidance scale is ignored, as in diffusers).</summary>
    public bool IsDistilled { get; init; }

    /// <summary>FLUX.2 [klein]: the text encoder is Qwen3 (read from its config.json, not from a name).</summary>
    public bool IsKlein => TextEncoder.Model.Config.Family == TextEncoderFamily.Qwen3;

    /// <summary>Samples take a negative prompt and true classifier-free guidance: no guidance embedder ([klein] base,
    /// FLUX.2-micro) and not step-distilled.</summary>
    public bool SamplesWithTrueCfg => !Transformer.Config.GuidanceEmbeds && !IsDistilled;

    public Flux2Pipeline Pipeline => new(Transformer, Vae, Scheduler, () => InUse(Vae));

    /// <summary>
    /// low_vram (ai-toolkit <c>model.low_vram</c>; the guide's 24/48 GB tiers): once the trainer has cached latents and
    /// text embeddings, the text encoder and the VAE wait in CPU memory and come to the transformer's device only while
    /// they work (<see cref="InUse"/>: prompt encoding, sample decoding), so the transformer's training has the GPU.
    /// </summary>
    public bool LowVram { get; private set; }
    readonly Dictionary<nn.Module, int> inUse = new();

    /// <summary>Turns <see cref="LowVram"/> on for models already loaded: the text encoder and VAE go to CPU memory
    /// now.</summary>
    public void KeepIdlePartsOnCpu()
    {
        LowVram = true;
        lock (inUse)
            foreach (var part in new nn.Module[] { TextEncoder.Model, Vae })
                if (!inUse.ContainsKey(part)) part.to(CPU);
    }

    /// <summary>Makes <paramref name="part"/> (the text encoder or the VAE) work on the transformer's device until
    /// disposed, under low_vram; otherwise it is already there and this does nothing. Nested uses act once. The VAE
    /// (0.2 GiB) is moved whole; the text encoder stays in CPU memory and runs there layer by layer on the device
    /// (<see cref="MistralTextModel.StreamLayersTo"/>): one decoder layer of GPU memory instead of 18.6 GiB in fp8, so
    /// captions and sample prompts can be encoded next to a tier-A transformer on a 24 GB card.</summary>
    public IDisposable? InUse(nn.Module part)
    {
        if (!LowVram) return null;
        var device = Transformer.Device;
        if (device.type == TorchSharp.DeviceType.CPU) return null;
        lock (inUse)
        {
            int users = inUse.GetValueOrDefault(part);
            if (users == 0) Arrive(part, device);
            inUse[part] = users + 1;
        }
        return new Release(this, part);
    }

    static void Arrive(nn.Module part, Device device)
    {
        if (part is MistralTextModel encoder) encoder.StreamLayersTo = device;
        else part.to(device);
    }

    static void Leave(nn.Module part)
    {
        if (part is MistralTextModel encoder) encoder.StreamLayersTo = null;
        else part.to(CPU);
    }

    sealed class Release(Flux2Models owner, nn.Module part) : IDisposable
    {
        bool done;
        public void Dispose()
        {
            if (done) return;
            done = true;
            lock (owner.inUse)
            {
                int users = owner.inUse[part] - 1;
                if (users > 0) { owner.inUse[part] = users; return; }
                owner.inUse.Remove(part);
                Leave(part);
            }
        }
    }

    /// <summary>prompt_embeds [B, 512, joint_dim] for a batch of prompts (chat template, padding, text
    /// encoder).</summary>
    public Tensor EncodePrompts(IReadOnlyList<string> prompts)
    {
        using var inUse = InUse(TextEncoder.Model);
        using var scope = NewDisposeScope();
        var device = Transformer.Device;
        var (ids, mask) = Tokenizer.Encode(prompts, device);
        return TextEncoder.Encode(ids, mask).MoveToOuterDisposeScope();
    }

    /// <summary>Embeds of <paramref name="negativePrompt"/> (diffusers' default: the empty prompt) when the model
    /// samples with true classifier-free guidance (<see cref="SamplesWithTrueCfg"/>), else null — pass to
    /// <see cref="Flux2Pipeline.Generate"/> as its negative.</summary>
    public Tensor? NegativeEmbedsForGuidance(string negativePrompt = "") => SamplesWithTrueCfg
        ? EncodePrompts(new[] { negativePrompt }) : null;

    /// <summary>Resolves <paramref name="spec"/> (folder, cached repo id, <see cref="MicroModel.Name"/> or
    /// <see cref="TinyRandom"/>) and loads everything. Repo ids are looked up in <paramref name="cache"/>, by default
    /// the user's HF cache (<see cref="HfCache.Default"/>). <paramref name="quantization"/> picks the components whose
    /// Linear weights are quantized while loading (quantized storage built on the device, filled tensor
    /// by tensor).</summary>
    /// <param name="lowVram">Load the text encoder and the VAE into CPU memory and bring them to the device only while
    /// they work (<see cref="LowVram"/>), so they never sit next to the transformer's training.</param>
    /// <param name="layerOffloading">Share of the transformer's blocks to offload
    /// (model.layer_offloading_transformer_percent; null: none; CUDA only): those blocks go from the file to pinned CPU
    /// memory through a GPU slot one at a time (<see cref="TransformerOffloading.Build"/>), so the whole transformer is
    /// never on the GPU (<see cref="Offloader"/>).</param>
    public static Flux2Models Load(string spec, Device? device = null, ScalarType? dtype = null,
                                   Action<string>? log = null, HfCache? cache = null,
                                   ModelQuantization? quantization = null, bool lowVram = false,
                                   double? layerOffloading = null)
    {
        var q = quantization ?? ModelQuantization.None;
        if (layerOffloading is not null) BlockOffloader.RequireCuda(device ?? CPU); // before any weight is read
        if (spec == TinyRandom) return CreateTinyRandom(seed: 0, device, q, layerOffloading);
        var root = ResolveFolder(spec, cache);
        var folder = DiffusersFolder.Open(root);
        log?.Invoke($"loading transformer from " +
            $"{root}{(q.Transformer is { } tq ? $", quantizing to {tq} while loading" : "")}" +
            (layerOffloading is { } share ? $", offloading {share:P0} of its blocks to pinned CPU memory" : ""));
        var (transformer, offloader) = LoadTransformer(folder, root, device, dtype, q.Transformer, layerOffloading);
        List<IDisposable> loaded = offloader is null ? [transformer] : [offloader, transformer];
        try
        {
            log?.Invoke("loading VAE");
            var idle = lowVram ? CPU : device;
            var vae = AutoencoderKLFlux2.FromFolder(folder["vae"].Folder, idle, dtype);
            loaded.Add(vae);
            log?.Invoke($"loading text " +
                $"encoder{(q.TextEncoder is { } teq ? $", quantizing to {teq} while loading" : "")}");
            var te = Flux2PromptEncoder.FromFolder(folder["text_encoder"].Folder,
                OutLayersFor(folder["text_encoder"].Folder, transformer.Config), idle, dtype, q.TextEncoder);
            loaded.Add(te);
            var tokenizer = PromptTokenizer.FromFolder(folder["tokenizer"].Folder);
            if (te.Model.Config.Family == TextEncoderFamily.Qwen3)
                log?.Invoke($"FLUX.2 [klein]: Qwen3 text encoder, layers {string.Join("/", te.OutLayers)}, " +
                    (folder.IsDistilled ? "step-distilled (no classifier-free guidance)"
                        : "true classifier-free guidance"));
            var scheduler = FlowMatchEulerScheduler.FromJson(folder["scheduler"].ConfigPath
                ?? throw new FileNotFoundException($"{folder["scheduler"].Folder}: scheduler_config.json not found"));
            return new Flux2Models
            {
                Origin = root,
                Transformer = transformer,
                Offloader = offloader,
                Vae = vae,
                TextEncoder = te,
                Tokenizer = tokenizer,
                Scheduler = scheduler,
                LowVram = lowVram,
                IsDistilled = folder.IsDistilled
            };
        }
        catch
        {
            foreach (var part in loaded) part.Dispose();
            throw;
        }
    }

    /// <summary>The folder a model spec names (not <see cref="TinyRandom"/>, which has none): a folder as given,
    /// <see cref="MicroModel.Name"/> → the embedded weights, a repo id → its snapshot in <paramref name="cache"/>
    /// (default <see cref="HfCache.Default"/>).</summary>
    public static string ResolveFolder(string spec, HfCache? cache = null)
    {
        if (spec == MicroModel.Name && !Directory.Exists(spec))
        {
            spec = MicroModel.DefaultFolder;
            if (!File.Exists(Path.Combine(spec, "model_index.json")))
                throw new DirectoryNotFoundException($"the embedded {MicroModel.Name} weights are missing from " +
                    $"{spec}; rebuild (they are copied from src/Flux2.Core/Micro/flux2-micro) or recreate them with " +
                    $"./flux2 pretrain-micro");
        }
        return Directory.Exists(spec) ? spec
             : HfCache.IsRepoId(spec, Environment.CurrentDirectory)
                 ? (cache ?? HfCache.Default()).ResolveSnapshot(spec)
             : throw new DirectoryNotFoundException($"model '{spec}' is neither a folder nor a Hugging Face repo " +
                 $"id (owner/name); use a diffusers folder, a repo id in the HF cache, or '{TinyRandom}'");
    }

    /// <summary>The transformer from a <c>transformer/</c> folder or a BFL <c>flux2-dev.safetensors</c>; with
    /// <paramref name="layerOffloading"/>, its offloaded blocks filled from the file one at a time through a GPU
    /// slot.</summary>
    static (Flux2Transformer, BlockOffloader?) LoadTransformer(DiffusersFolder folder, string root, Device? device,
        ScalarType? dtype, QuantType? quant, double? layerOffloading)
    {
        var bfl = Path.Combine(root, "flux2-dev.safetensors");
        var (path, config) = folder.Components.TryGetValue("transformer", out var t)
                               ? (t.Folder, Flux2TransformerFiles.FolderConfig(t.Folder))
                           : File.Exists(bfl) ? (bfl, TransformerConfig.Dev)
                           : throw new DirectoryNotFoundException($"{root}: no transformer/ folder and no " +
                               $"flux2-dev.safetensors");
        if (layerOffloading is not { } share)
            return (Flux2TransformerFiles.FromCheckpoint(path, config, device, dtype, quant), null);
        using var source = TransformerCheckpoint.Open(path);
        var (model, offloader) = TransformerOffloading.Build(config, device!, dtype, quant, share,
                                                             (m, o) => ModuleLoader.Load(m, source, offloaded: o));
        return (model, offloader);
    }

    /// <summary>FLUX.2 stacks 3 text-encoder layers (10/20/30 for dev, docs/flux2-model.md §4.3; 9/18/27 of Qwen3 for
    /// [klein], diffusers' <c>text_encoder_out_layers</c>); a smaller encoder whose hidden·3 matches the transformer's
    /// text width uses its last three layers evenly spaced the same way.</summary>
    static int[] OutLayersFor(string textEncoderFolder, TransformerConfig t)
    {
        var cfg = MistralConfig.FromJson(Path.Combine(textEncoderFolder, "config.json"));
        int n = t.JointAttentionDim / cfg.HiddenSize;
        if (n * cfg.HiddenSize != t.JointAttentionDim)
            throw new InvalidDataException($"{textEncoderFolder}/config.json: hidden_size {cfg.HiddenSize} does not " +
                $"divide the transformer's joint_attention_dim {t.JointAttentionDim}");
        if (cfg.Family == TextEncoderFamily.Qwen3 && cfg.NumHiddenLayers >= 27 && n == 3)
            return Flux2PromptEncoder.KleinOutLayers;
        if (cfg.Family == TextEncoderFamily.Mistral && cfg.NumHiddenLayers >= 30 && n == 3)
            return Flux2PromptEncoder.DefaultOutLayers;
        if (cfg.NumHiddenLayers == n) return Enumerable.Range(1, n).ToArray();
        int step = cfg.NumHiddenLayers / n;
        return Enumerable.Range(1, n).Select(i => i * step).ToArray();
    }

    /// <summary>Debug-size FLUX.2 with seeded random weights (transformer/VAE/text-encoder fixture shapes).</summary>
    /// <param name="layerOffloading">As in <see cref="Load"/>: the offloaded blocks are initialized through GPU slots,
    /// to the same weights as without offloading.</param>
    public static Flux2Models CreateTinyRandom(long seed, Device? device = null,
        ModelQuantization? quantization = null, double? layerOffloading = null)
    {
        var q = quantization ?? ModelQuantization.None;
        manual_seed(seed); // the VAE's convolutions take TorchSharp's default init at construction
        Flux2Transformer transformer;
        BlockOffloader? offloader = null;
        if (layerOffloading is { } share)
            (transformer, offloader) = TransformerOffloading.Build(TransformerConfig.Tiny, device ?? CPU, null,
                                                                   q.Transformer, share,
                                                                   (m, o) => RandomInit.Apply(m, seed, o));
        else
        {
            transformer = new Flux2Transformer(TransformerConfig.Tiny, device, quant: q.Transformer);
            RandomInit.Apply(transformer, seed);
        }
        var vae = new AutoencoderKLFlux2(VaeConfig.Tiny, device);
        RandomInit.Apply(vae, seed + 1);
        var te = new Flux2PromptEncoder(MistralConfig.Tiny, new[] { 1, 2, 3 }, device, quant: q.TextEncoder);
        RandomInit.Apply(te.Model, seed + 2);
        var template =
            new Flux2ChatTemplate(ByteLevelBpeTokenizer.FromJson(ByteLevelBpeTokenizer.ByteOnlyTokenizerJson(),
                "tiny-random tokenizer"), maxLength: 64);
        return new Flux2Models
        {
            Origin = TinyRandom,
            Transformer = transformer,
            Offloader = offloader,
            Vae = vae,
            TextEncoder = te,
            Tokenizer = template,
            Scheduler = new FlowMatchEulerScheduler()
        };
    }

    /// <summary>The offloader first: it points the offloaded blocks back at placeholders and frees their pinned
    /// memory.</summary>
    public void Dispose() { Offloader?.Dispose(); Transformer.Dispose(); Vae.Dispose(); TextEncoder.Dispose(); }
}
