using Flux2.IO;
namespace Flux2.Training.Config;

// Every default of a training job lives in this file. Keys and defaults follow ai-toolkit's job YAML
// (docs/ai-toolkit-compat.md §1.2: "code default" unless noted); keys marked "ours" are this kit's additions. Bare
// "§N" below are sections of docs/ai-toolkit-compat.md.
// Property names map to YAML keys by snake_case (LinearAlpha ↔ linear_alpha).

/// <summary>The whole job file: <c>job</c>, <c>config</c>, <c>meta</c> (docs/ai-toolkit-compat.md §1.1).</summary>
public sealed record JobFile
{
    public string Job { get; set; } = "extension";
    public JobSection Config { get; set; } = new();
    /// <summary>Free key/values copied into the LoRA file's metadata; "[name]" becomes the job name.</summary>
    public Dictionary<string, string> Meta { get; set; } = new();

    /// <summary>The training process (ai-toolkit runs <c>config.process[0]</c> for a LoRA job).</summary>
    public ProcessConfig Process => Config.Process[0];
}

public sealed record JobSection
{
    /// <summary>Run folder name under training_folder and the stem of saved files.</summary>
    public string Name { get; set; } = "";
    public List<ProcessConfig> Process { get; set; } = new();
}

[IgnoredKeys("validation_config")]
[InertKey("sqlite_db_path", "*", "the ai-toolkit UI's job database; this kit logs every step to <run>/run.sqlite")]
[InertKey("logging", "*", "the UI and W&B metric loggers; this kit logs every step to <run>/run.sqlite")]
public sealed record ProcessConfig
{
    /// <summary>Every this many steps, a line with the mean seconds per step since the previous one; 0 = off.</summary>
    [Range(0)] public int PerformanceLogEvery { get; set; } = 0;
    public string Type { get; set; } = "sd_trainer";
    public string TrainingFolder { get; set; } = "output";
    /// <summary>auto (CUDA when present), cpu, cuda, cuda:N.</summary>
    public string Device { get; set; } = "auto";
    public string? TriggerWord { get; set; }
    public NetworkConfig Network { get; set; } = new();
    public SaveConfig Save { get; set; } = new();
    public List<DatasetConfig> Datasets { get; set; } = new();
    public TrainConfig Train { get; set; } = new();
    public ModelConfig Model { get; set; } = new();
    public SampleConfig Sample { get; set; } = new();
}

public enum NetworkType { Lora, Lokr }
public enum LoraTargetPreset { [YamlAlias("ai-toolkit", "all_linear")] AiToolkit, [YamlAlias("peft")] Diffusers }

[IgnoredKeys("all_layers")]
[InertKey("conv", "*", "the rank of LoRAs on convolutions, and the FLUX.2 transformer blocks have none")]
[InertKey("conv_alpha", "*", "the alpha of LoRAs on convolutions, and the FLUX.2 transformer blocks have none")]
[InertKey("transformer_only", "*", "FLUX.2 LoRAs here always train the transformer only")]
public sealed record NetworkConfig
{
    /// <summary>A LoRA file whose weights the network starts from instead of a fresh initialization (not when the
    /// run resumes from its own checkpoint).</summary>
    public string? PretrainedLoraPath { get; set; }
    public NetworkType Type { get; set; } = NetworkType.Lora;
    /// <summary>Rank r.</summary>
    [YamlAlias("rank"), Range(1, 1024)] public int Linear { get; set; } = 4;
    /// <summary>Scale = alpha / rank. Absent: alpha = rank (scale 1, what ai-toolkit forces for FLUX.2,
    /// §2.10).</summary>
    [Range(0, 1e6)] public double? LinearAlpha { get; set; }
    public NetworkKwargs NetworkKwargs { get; set; } = new();
    /// <summary>Dropout on each adapter's input while training (peft lora_dropout); 0 = off.</summary>
    [Range(0, 0.99)] public double Dropout { get; set; } = 0.0;

    /// <summary>LoKr: both Kronecker factors full matrices (ai-toolkit's default; scale 1); false: the larger factor is
    /// W2a·W2b of rank <see cref="Linear"/> with scale linear_alpha / linear.</summary>
    public bool LokrFullRank { get; set; } = true;
    /// <summary>LoKr: the factorization of each Linear's sides (-1: the pair closest to the square root; n: n × d/n
    /// when n divides d).</summary>
    public int LokrFactor { get; set; } = -1;

    public double Alpha => LinearAlpha ?? Linear;
    public double Scale => Alpha / Linear;
}

[IgnoredKeys("full_if_contains", "rank_dropout", "module_dropout")]
public sealed record NetworkKwargs
{
    /// <summary>ours: the base set of trained Linears before the filters — ai_toolkit (every Linear in the blocks) or
    /// diffusers (train_dreambooth_lora_flux2's default: image attention q/k/v/out of double blocks, both Linears of
    /// single blocks).</summary>
    public LoraTargetPreset TargetPreset { get; set; } = LoraTargetPreset.AiToolkit;
    /// <summary>Train only modules whose diffusers or BFL path contains one of these substrings (empty: all).</summary>
    public List<string> OnlyIfContains { get; set; } = new();
    public List<string> IgnoreIfContains { get; set; } = new();
}

public enum Precision
{
    [YamlAlias("float32", "fp32", "float", "full")] Fp32,
    [YamlAlias("float16", "fp16", "half")] Fp16,
    [YamlAlias("bfloat16", "bf16")] Bf16,
}

[InertKey("save_format", "*", "read for full-model saves only; a LoRA is saved as one .safetensors file")]
[InertKey("push_to_hub", "false", "uploading to the Hugging Face Hub is not implemented; the LoRA stays in the " +
    "run folder")]
[InertKey("hf_repo_id", "*", "read with push_to_hub only")]
[InertKey("hf_private", "*", "read with push_to_hub only")]
public sealed record SaveConfig
{
    public Precision Dtype { get; set; } = Precision.Fp16;
    [Range(1)] public int SaveEvery { get; set; } = 1000;
    [Range(0)] public int MaxStepSavesToKeep { get; set; } = 5;
    /// <summary>ours: file layout of saved LoRAs — comfyui (ai-toolkit's, the default) or diffusers (peft, alpha in
    /// metadata).</summary>
    public Flux2.Lora.LoraLayout LoraFormat { get; set; } = Flux2.Lora.LoraLayout.Comfyui;
}

[IgnoredKeys("token_dropout_rate", "cache_text_embeddings", "batch_size",
             "bucket_tolerance", "random_crop", "square_crop", "scale",
             "num_workers", "prefetch_factor", "trigger_word", "replacements")]
[InertKey("mask_path", "null", "loss masks are not implemented; every pixel is trained")]
[InertKey("mask_min_value", "*", "read with mask_path only")]
[InertKey("cache_latents", "*", "latents are always cached in memory here")]
[InertKey("controls", "[]", "control images that ai-toolkit generates (depth, line, pose, inpaint) are Flex.2's; " +
    "FLUX.2 reads control images from control_path_1..3")]
[InertKey("shrink_video_to_frames", "*", "read for video clips only (num_frames above 1)")]
[InertKey("num_frames", "1", "above 1, ai-toolkit trains on video clips; this kit trains on still images")]
public sealed record DatasetConfig
{
    /// <summary>Regularization images: their own batches, taken instead of a training batch on every second
    /// micro-batch (not on save or sample steps), the trigger not added to their captions, the loss multiplied by
    /// train.reg_weight (docs/ai-toolkit-compat.md §2.17).</summary>
    public bool IsReg { get; set; } = false;
    /// <summary>LoRA multiplier while this dataset's images are trained (1 = as saved).</summary>
    [Range(0, 100)] public double NetworkWeight { get; set; } = 1.0;
    public string FolderPath { get; set; } = "";
    public string DefaultCaption { get; set; } = "";
    public string CaptionExt { get; set; } = "txt";
    [Range(0, 1)] public double CaptionDropoutRate { get; set; } = 0.0;
    public bool ShuffleTokens { get; set; } = false;
    [Range(0)] public int KeepTokens { get; set; } = 0;
    public bool CacheLatentsToDisk { get; set; } = false;
    /// <summary>One dataset copy per resolution (§1.1): every image is trained at every listed size.</summary>
    public List<int> Resolution { get; set; } = new() { 512 };
    public bool FlipX { get; set; } = false;
    public bool FlipY { get; set; } = false;
    [Range(1, 10_000)] public int NumRepeats { get; set; } = 1;
    /// <summary>Aspect-ratio buckets (§2.7); false = every image center-cropped to a square.</summary>
    public bool Buckets { get; set; } = true;
    /// <summary>Edit/instruction LoRAs (docs/lora-guide.md §1 type 4): folders of control (source) images with the
    /// target's file names; they enter the model as reference tokens, the caption is the instruction.</summary>
    [YamlAlias("control_path_1", "control_path")] public string? ControlPath1 { get; set; }
    [YamlAlias("control_path_2")] public string? ControlPath2 { get; set; }
    [YamlAlias("control_path_3")] public string? ControlPath3 { get; set; }
    /// <summary>ours: what a corrupt, empty, oversized or caption-less file does — skip it (with a message) or stop
    /// before training with the list.</summary>
    public DataErrorPolicy OnError { get; set; } = DataErrorPolicy.Skip;

    public IReadOnlyList<string> ControlPaths => new[] { ControlPath1, ControlPath2, ControlPath3 }.OfType<string>()
        .Where(p => p.Length > 0).ToList();
}

public enum DataErrorPolicy { Skip, Fail }

public enum TimestepType { Weighted, Sigmoid, Linear, Shift, LognormBlend }
public enum ContentOrStyle { Balanced, Content, Style }
public enum LossType { Mse, [YamlAlias("l1")] Mae, PseudoHuber }
/// <summary>adamw: torch AdamW, fp32 moments; adamw8bit (the ai-toolkit UI default): our block-wise 8-bit AdamW
/// (Training/Optim).</summary>
public enum OptimizerType { Adamw, [YamlAlias("adam8bit")] Adamw8bit }
public enum LrSchedulerType { Constant, ConstantWithWarmup, Linear, Cosine }

[IgnoredKeys("noise_offset", "unconditional_prompt", "max_loss", "lr_scheduler_params", "skip_first_sample_on_resume")]
[InertKey("bypass_guidance_embedding", "*", "ai-toolkit's FLUX.2 noise prediction ignores it; the guidance " +
    "embedding gets train.cfg_scale")]
[InertKey("switch_boundary_every", "*", "read for models with several noise-stage experts (Wan 2.2) only")]
public sealed record TrainConfig
{
    /// <summary>The transformer (its LoRA) is what trains; false is refused.</summary>
    public bool TrainUnet { get; set; } = true;
    /// <summary>Text-encoder training is not supported; true is refused.</summary>
    public bool TrainTextEncoder { get; set; } = false;
    /// <summary>As ai-toolkit: every training caption becomes the trigger word (regularization images and jobs
    /// without a trigger: the empty caption), encoded once.</summary>
    public bool UnloadTextEncoder { get; set; } = false;
    /// <summary>No sample grids at all (not at the start, on sample_every steps or at the end).</summary>
    public bool DisableSampling { get; set; } = false;
    /// <summary>Also sample at the start of a resumed run (a fresh run samples at step 0 anyway).</summary>
    public bool ForceFirstSample { get; set; } = false;
    /// <summary>Loss multiplier of regularization batches (datasets with is_reg).</summary>
    [Range(0)] public double RegWeight { get; set; } = 1.0;
    [Range(1)] public int BatchSize { get; set; } = 1;
    [Range(0)] public int Steps { get; set; } = 1000;
    /// <summary>Micro-batches per optimizer step; their losses are averaged (ai-toolkit sums, §2.1).</summary>
    [YamlAlias("gradient_accumulation"), Range(1)] public int GradientAccumulationSteps { get; set; } = 1;
    public string NoiseScheduler { get; set; } = "flowmatch";
    public OptimizerType Optimizer { get; set; } = OptimizerType.Adamw;
    public OptimizerParams OptimizerParams { get; set; } = new();
    [Range(0)] public double Lr { get; set; } = 1e-6;
    public LrSchedulerType LrScheduler { get; set; } = LrSchedulerType.Constant;
    /// <summary>ours: linear warm-up from 0 over this many steps, before any scheduler.</summary>
    [Range(0)] public int LrWarmupSteps { get; set; } = 0;
    [Range(0)] public double MaxGradNorm { get; set; } = 1.0;
    public TimestepType TimestepType { get; set; } = TimestepType.Sigmoid;
    public ContentOrStyle ContentOrStyle { get; set; } = ContentOrStyle.Balanced;
    /// <summary>Index window into the 1000-entry timestep table (0 = highest noise).</summary>
    [Range(0, 999)] public int MinDenoisingSteps { get; set; } = 0;
    [Range(1, 1000)] public int MaxDenoisingSteps { get; set; } = 999;
    public LossType LossType { get; set; } = LossType.Mse;
    /// <summary>ours: c of pseudo_huber, √(d² + c²) − c (ai-toolkit hard-codes 0.01, §2.2).</summary>
    [Range(0)] public double PseudoHuberC { get; set; } = 0.01;
    /// <summary>Differential Guidance (§2.5): train towards v + s·(target − v), v detached — for MSE, s × the
    /// gradient.</summary>
    public bool DoDifferentialGuidance { get; set; } = false;
    [Range(0)] public double DifferentialGuidanceScale { get; set; } = 3.0;
    /// <summary>Transformer weights dtype for training (LoRA weights and optimizer state stay fp32, §2.10).</summary>
    public Precision Dtype { get; set; } = Precision.Fp32;
    /// <summary>Guidance-embedding value fed during training (§0: default 1.0).</summary>
    public double CfgScale { get; set; } = 1.0;
    public long Seed { get; set; } = 42;
    /// <summary>Skip the baseline sample at step 0.</summary>
    public bool SkipFirstSample { get; set; } = false;
    /// <summary>Differential Output Preservation (docs/lora-guide.md §3.3, docs/ai-toolkit-compat.md §2.4): each step
    /// also runs the caption with the trigger replaced by <see cref="DiffOutputPreservationClass"/> through the model
    /// with the LoRA off (the prior) and on, and adds MSE(on, off) × multiplier, so the LoRA learns to change nothing
    /// when the trigger is absent.</summary>
    public bool DiffOutputPreservation { get; set; } = false;
    [Range(0)] public double DiffOutputPreservationMultiplier { get; set; } = 1.0;
    /// <summary>The class word that replaces the trigger in the preservation prompt ("woman", "robot"; "" for a style:
    /// the caption without the trigger).</summary>
    public string DiffOutputPreservationClass { get; set; } = "";
    /// <summary>Blank Prompt Preservation (§2.4): as DOP, with the empty prompt instead of the class prompt: each
    /// step adds MSE(LoRA on, LoRA off) on the empty prompt × multiplier, so the LoRA learns to leave the
    /// unconditional output alone. Not together with DOP (ai-toolkit refuses both).</summary>
    public bool BlankPromptPreservation { get; set; } = false;
    [Range(0)] public double BlankPromptPreservationMultiplier { get; set; } = 1.0;
    /// <summary>Prompt embeds also stored on disk under the run folder (ai-toolkit §2.9), keyed by model, caption and
    /// tokenizer length; they are always cached in memory when captions do not vary per step.</summary>
    public bool CacheTextEmbeddings { get; set; } = false;
    /// <summary>Per-block gradient checkpointing (Nn/GradientCheckpoint): each transformer block's activations are
    /// recomputed in the backward pass instead of kept, for one more forward per step. Needed at FLUX.2-dev size; the
    /// micro model's activations are tiny, so its jobs leave it off.</summary>
    public bool GradientCheckpointing { get; set; } = false;
    /// <summary>With checkpointing on a CUDA device, each block's saved hidden states wait for the backward pass in
    /// pinned host memory instead of on the GPU (Nn/Offload/CheckpointInputOffloader; ~3 GiB at FLUX.2-dev 1024², the
    /// copies overlap compute). musubi-tuner's name; ignored on the CPU.</summary>
    public bool GradientCheckpointingCpuOffload { get; set; } = true;
    /// <summary>Exponential moving average of the LoRA weights, used for samples and saves (docs/ai-toolkit-compat.md
    /// §2.16).</summary>
    public EmaConfig EmaConfig { get; set; } = new();
    /// <summary>ours: stop after this many NaN/inf steps in a row (or more than max(this, 5% of steps) in all); 0 =
    /// never.</summary>
    [Range(0)] public int MaxNanSteps { get; set; } = 10;
}

[IgnoredKeys("use_feedback", "param_multiplier")]
public sealed record EmaConfig
{
    public bool UseEma { get; set; } = false;
    /// <summary>The UI's and the FLUX.1 example's value (ai-toolkit's code default is 0.999).</summary>
    [Range(0, 1)] public double EmaDecay { get; set; } = 0.99;
}

public sealed record OptimizerParams
{
    [Range(0)] public double WeightDecay { get; set; } = 1e-4;
    public List<double> Betas { get; set; } = new() { 0.9, 0.999 };
    [Range(0)] public double Eps { get; set; } = 1e-6;
}

[IgnoredKeys("vae_path", "accuracy_recovery_adapter")]
[InertKey("compile", "false", "torch.compile is PyTorch's; this kit runs without graph compilation")]
[InertKey("block_compile", "*", "read with compile only")]
[InertKey("compile_mode", "*", "read with compile only")]
[InertKey("compile_dynamic", "*", "read with compile only")]
[InertKey("compile_fullgraph", "*", "read with compile only")]
[InertKey("dtype", "*", "overwritten by train.dtype, as in ai-toolkit")]
[InertKey("layer_offloading_text_encoder_percent", "0", "layer offloading streams the transformer's blocks only; the " +
    "text encoder follows low_vram", OnlyWith = "layer_offloading")]
public sealed record ModelConfig
{
    /// <summary>A diffusers folder, a repo id in the HF cache, or tiny-random.</summary>
    public string NameOrPath { get; set; } = "black-forest-labs/FLUX.2-dev";
    /// <summary>ai-toolkit's model family. Which FLUX.2 it is comes from the model folder itself (a Qwen3 text
    /// encoder is [klein]); the klein names only make a mismatch with the folder worth a warning at load.</summary>
    public string Arch { get; set; } = "flux2";
    public ModelKwargs ModelKwargs { get; set; } = new();

    /// <summary>ai-toolkit arch names of the FLUX.2 models this kit trains.</summary>
    public static readonly string[] KnownArchs = ["flux2", "flux2_dev", "flux2_klein_4b", "flux2_klein_9b"];

    /// <summary>The arch names a FLUX.2 [klein] model.</summary>
    public bool ArchIsKlein => Arch is "flux2_klein_4b" or "flux2_klein_9b";
    /// <summary>Quantized transformer Linear weights (<see cref="Qtype"/>), quantized while loading; LoRA trains on
    /// top of the frozen quantized base (docs/ai-toolkit-compat.md §2.14).</summary>
    public bool Quantize { get; set; } = false;
    public WeightQuantization Qtype { get; set; } = WeightQuantization.Qfloat8;
    /// <summary>Quantized text-encoder (Mistral decoder layers) weights; unset follows <see cref="Quantize"/>, as
    /// ai-toolkit's code default does. Unlike ai-toolkit's FLUX.2 loader (which quantizes Mistral with <c>qtype</c>,
    /// §2.14), the encoder uses <see cref="QtypeTe"/>.</summary>
    public bool? QuantizeTe { get; set; }
    public WeightQuantization QtypeTe { get; set; } = WeightQuantization.Qfloat8;
    // Memory savers: low_vram parks the text encoder and VAE in CPU memory between uses (Flux2Models.InUse);
    // layer offloading streams transformer blocks from pinned CPU memory (Nn/Offload).
    public bool LowVram { get; set; } = false;
    /// <summary>Stream a share of the transformer's blocks from pinned CPU memory (Nn/Offload/BlockOffloader); CUDA
    /// only.</summary>
    public bool LayerOffloading { get; set; } = false;
    [Range(0, 1)] public double LayerOffloadingTransformerPercent { get; set; } = 1.0;
}

public sealed record ModelKwargs
{
    /// <summary>ai-toolkit: true sizes the control images of edit pairs to the target's area, false caps them at 1 MP
    /// with their own aspect ratio. This kit always encodes them in the target's bucket (true's behaviour); a job
    /// with control images and false is told so when it starts.</summary>
    public bool MatchTargetRes { get; set; } = false;
}

/// <summary>ai-toolkit <c>qtype</c> values this kit implements (Nn.Quantization.QuantType parses the same spellings):
/// weight-only 8-bit with per-output-channel scales (qfloat8, qint8), and uint2-uint8 (torchao's UIntX weight-only
/// types, the UI's "N bit" choices): asymmetric N-bit codes with a bf16 scale and a zero point per group of 64 input
/// weights. qint4, qint2 and nvfp4 are not implemented.</summary>
public enum WeightQuantization
{
    [YamlAlias("float8", "fp8", "qfloat8_e4m3fn", "float8_e4m3fn", "fp8_e4m3")] Qfloat8,
    [YamlAlias("int8")] Qint8,
    Uint2,
    Uint3,
    Uint4,
    Uint5,
    Uint6,
    Uint7,
    Uint8,
}

[IgnoredKeys("format", "add_prompt_file")]
[InertKey("sampler", "flowmatch", "samples use the flow-matching Euler sampler")]
[InertKey("num_frames", "1", "above 1, ai-toolkit samples video; this kit samples still images")]
[InertKey("fps", "*", "read for video samples only (num_frames above 1)")]
public sealed record SampleConfig
{
    /// <summary>No sample_every grids before this step.</summary>
    [Range(0)] public int SampleStartStep { get; set; } = 0;
    [Range(1)] public int SampleEvery { get; set; } = 100;
    [Range(16, 8192)] public int Width { get; set; } = 512;
    [Range(16, 8192)] public int Height { get; set; } = 512;
    public List<string> Prompts { get; set; } = new();
    /// <summary>The UI's form of <see cref="Prompts"/>: a list of {prompt: ...}.</summary>
    public List<SampleItem> Samples { get; set; } = new();
    public long Seed { get; set; } = 0;
    /// <summary>Seed + prompt index for each prompt.</summary>
    public bool WalkSeed { get; set; } = false;
    [Range(0)] public double GuidanceScale { get; set; } = 7;
    /// <summary>Negative prompt of the previews of a model sampled with true classifier-free guidance ([klein] base,
    /// FLUX.2-micro); absent: the empty prompt, as diffusers' Flux2KleinPipeline. Unused by guidance-distilled
    /// models.</summary>
    public string Neg { get; set; } = "";
    [Range(1)] public int SampleSteps { get; set; } = 20;
    /// <summary>The LoRA's strength in the previews (1 = as trained, 0 = the base model).</summary>
    [Range(-100, 100)] public double NetworkMultiplier { get; set; } = 1.0;

    public IReadOnlyList<string> AllPrompts => AllItems.Select(s => s.Prompt).ToList();

    /// <summary><see cref="Prompts"/> (with the section's settings) followed by <see cref="Samples"/>.</summary>
    public IReadOnlyList<SampleItem> AllItems => Prompts.Select(p => new SampleItem { Prompt = p }).Concat(Samples)
        .ToList();

    /// <summary>The seed of each of <see cref="AllItems"/>, as ai-toolkit draws them: <see cref="Seed"/>, plus the
    /// index with <see cref="WalkSeed"/>; an item's own seed replaces it (and, without walk_seed, stays for the
    /// items after it).</summary>
    public IReadOnlyList<long> ItemSeeds()
    {
        var seeds = new List<long>();
        long current = Seed;
        foreach (var (item, i) in AllItems.Select((s, i) => (s, i)))
        {
            if (WalkSeed) current = Seed + i;
            if (item.Seed is long own) current = own;
            seeds.Add(current);
        }
        return seeds;
    }
}

public sealed record SampleItem
{
    public string Prompt { get; set; } = "";
    /// <summary>This preview's seed instead of sample.seed (+ index).</summary>
    public long? Seed { get; set; }
    /// <summary>This preview's guidance_scale, sample_steps and negative prompt instead of the section's.</summary>
    [Range(0)] public double? GuidanceScale { get; set; }
    [Range(1)] public int? SampleSteps { get; set; }
    public string? Neg { get; set; }
    /// <summary>This preview's size instead of the section's width/height.</summary>
    [Range(16, 8192)] public int? Width { get; set; }
    [Range(16, 8192)] public int? Height { get; set; }
    /// <summary>This preview's LoRA strength instead of sample.network_multiplier.</summary>
    [Range(-100, 100)] public double? NetworkMultiplier { get; set; }
    /// <summary>Reference images of an edit preview (the model sees them as reference tokens, as the control images
    /// of an edit dataset in training); ctrl_img is ai-toolkit's older name of the first.</summary>
    [YamlAlias("ctrl_img_1", "ctrl_img")] public string? CtrlImg1 { get; set; }
    [YamlAlias("ctrl_img_2")] public string? CtrlImg2 { get; set; }
    [YamlAlias("ctrl_img_3")] public string? CtrlImg3 { get; set; }

    /// <summary>The reference images set, in order.</summary>
    public IReadOnlyList<string> CtrlImages => new[] { CtrlImg1, CtrlImg2, CtrlImg3 }.OfType<string>()
        .Where(p => p.Length > 0).ToList();
}
