using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;

namespace Flux2.Interactive;

/// <summary>A VRAM tier as settings for a LoRA job in ai-toolkit terms: the guide's tiers for FLUX.2-dev
/// (docs/lora-guide.md §2) and the measured ones for FLUX.2 [klein].</summary>
public sealed record VramAdvice(
    string Tier, double MinGiB, bool Fits, string TransformerQuantization, string TextEncoderQuantization, bool LowVram,
    bool LayerOffloading, string Rank, string BatchSize, string Resolution, bool DifferentialOutputPreservation,
    string Notes);

/// <summary>
/// Pure functions for notebooks 03/04: which settings a GPU's memory calls for, weight memory from parameter
/// counts, and how many trainable parameters a LoRA of a given rank adds to which layers (from a transformer config).
/// </summary>
public static class Recommendations
{
    /// <summary>The VRAM tiers, lowest first. Each tier starts above the peak GPU memory measured for its settings
    /// on FLUX.2-dev at 1024², rank 32 (docs/performance.md): tier A 19.2 GiB, tier B 38.4 GiB, tier C 66.0 GiB.
    /// </summary>
    public static readonly IReadOnlyList<VramAdvice> Tiers =
    [
        new("under 20 GB: FLUX.2-dev does not fit", 0, false, "-", "-", true, true, "-", "-", "-", false,
            "Train FLUX.2-micro (this kit) or a klein model; FLUX.2-dev training does not fit."),
        new("A: 20–40 GB (RTX 3090, 4090, 5090)", 20, true, "float8", "float8", true, true, "8–16",
            "1 (+ gradient accumulation)", "896–1024 long side", false,
            "Tight: simple styles or characters; cache text embeddings, DOP off."),
        new("B: 40–70 GB (RTX 6000 Ada, A6000, L40S)", 40, true, "float8", "float8", true, false, "32", "1–2",
            "1024²", false, "Comfortable: 20–60+ images, 1000–3000 steps, lr 1e-4; offloading only if still OOM."),
        new("C: 70+ GB (A100 80 GB, H100, H200)", 70, true, "float8 (bf16 possible)", "float8", false, false,
            "32–64", "2–4", "1024², several buckets", true,
            "Room to breathe: DOP on by default, larger or several buckets."),
    ];

    /// <summary>FLUX.2 [klein] 4B tiers, lowest first, on the same basis as <see cref="Tiers"/>: each starts above
    /// the peak GPU memory measured for its settings at 1024², rank 32, batch 1 (docs/performance.md, FLUX.2 [klein]
    /// 4B and 9B): tier A 5.1 GiB, tier B 6.9 GiB, tier C 9.9 GiB. Those steps ran with the text embeddings cached and
    /// the Qwen3 encoder off the GPU, so every tier keeps Low VRAM on and DOP off (DOP encodes a prompt every
    /// step). They put the LoRA on diffusers' default targets; ai-toolkit's (every Linear of the blocks) add 12.8 M
    /// rank-32 parameters, 0.19 GiB with fp32 AdamW state, inside each tier's margin.</summary>
    public static readonly IReadOnlyList<VramAdvice> Klein4BTiers =
    [
        new("under 6 GB: klein-4B does not fit", 0, false, "-", "-", true, true, "-", "-", "-", false,
            "Train FLUX.2-micro (this kit)."),
        new("A: 6–8 GB", 6, true, "float8", "float8", true, true, "32", "1", "1024²", false,
            "float8 with 75% of the blocks streamed from CPU memory (5.1 GiB measured); cache text embeddings."),
        new("B: 8–12 GB", 8, true, "float8", "float8", true, false, "32", "1", "1024²", false,
            "float8, no offloading (6.9 GiB measured)."),
        new("C: 12+ GB (RTX 3060 12 GB, 4070, 4080, 4090)", 12, true, "bf16", "float8", true, false, "32", "1",
            "1024²", false, "bf16 transformer, the fastest step (9.9 GiB measured)."),
    ];

    /// <summary>FLUX.2 [klein] 9B tiers on the basis of <see cref="Klein4BTiers"/>: measured peaks tier A 8.0 GiB,
    /// tier B 12.9 GiB, tier C 20.4 GiB; ai-toolkit's targets add 27.3 M rank-32 parameters (0.41 GiB).</summary>
    public static readonly IReadOnlyList<VramAdvice> Klein9BTiers =
    [
        new("under 10 GB: klein-9B does not fit", 0, false, "-", "-", true, true, "-", "-", "-", false,
            "Train klein-4B or FLUX.2-micro."),
        new("A: 10–16 GB", 10, true, "float8", "float8", true, true, "32", "1", "1024²", false,
            "float8 with 75% of the blocks streamed from CPU memory (8.0 GiB measured); cache text embeddings."),
        new("B: 16–24 GB", 16, true, "float8", "float8", true, false, "32", "1", "1024²", false,
            "float8, no offloading (12.9 GiB measured)."),
        new("C: 24+ GB (RTX 3090, 4090, 5090)", 24, true, "bf16", "float8", true, false, "32", "1", "1024²", false,
            "bf16 transformer, the fastest step (20.4 GiB measured)."),
    ];

    /// <summary>The tier of <see cref="Tiers"/> (FLUX.2-dev) for <paramref name="gib"/> of GPU memory.</summary>
    public static VramAdvice ForVram(double gib) => ForVram(gib, Tiers);

    /// <summary>The tier of <paramref name="tiers"/> (<see cref="Tiers"/>, <see cref="Klein4BTiers"/>,
    /// <see cref="Klein9BTiers"/>) for <paramref name="gib"/> of GPU memory.</summary>
    public static VramAdvice ForVram(double gib, IReadOnlyList<VramAdvice> tiers) => gib < 0 || double.IsNaN(gib)
        ? throw new ArgumentOutOfRangeException(nameof(gib), gib, "GPU memory must be a non-negative number of GiB")
        : tiers.Last(t => gib >= t.MinGiB);

    /// <summary>One card size per tier, for a table of all of them.</summary>
    public static readonly double[] TierExamples = { 12, 24, 48, 80 };

    /// <summary>Weight memory in GiB of <paramref name="parameters"/> at <paramref name="bytesPerParameter"/> (bf16 2,
    /// fp8 1).</summary>
    public static double WeightsGiB(long parameters, double bytesPerParameter) =>
        parameters * bytesPerParameter / (1L << 30);

    /// <summary>FLUX.2-dev's Mistral-Small-3 text encoder parameters (all 40 layers, no lm_head).</summary>
    public static long TextEncoderParameters =>
        MistralConfig.MistralSmall3.ParameterCount(MistralConfig.MistralSmall3.NumHiddenLayers);

    /// <summary>One kind of LoRA target: <paramref name="Count"/> Linear layers of shape [Out x In].</summary>
    public sealed record LoraTarget(string Name, long In, long Out, int Count)
    {
        public long LayerParameters => In * Out;
        public long LoraParameters(int rank) => (long)rank * (In + Out);
    }

    /// <summary>The Linear layers ai-toolkit's FLUX.2 default targets (every Linear in the double and single blocks;
    /// an attention's q, k and v are one fused qkv Linear [3·d x d] with one adapter, as in the BFL model) or, with
    /// <paramref name="diffusers"/>, diffusers' train_dreambooth_lora_flux2 default (image attention q/k/v/out of the
    /// double blocks, to_qkv_mlp_proj and to_out of the single blocks).</summary>
    public static IReadOnlyList<LoraTarget> Targets(TransformerConfig c, bool diffusers)
    {
        long d = c.InnerDim, m = c.MlpHidden;
        var list = new List<LoraTarget>();
        if (diffusers) list.Add(new("double attn.to_q/to_k/to_v/to_out.0", d, d, 4 * c.NumLayers));
        else
        {
            list.Add(new("double img_attn.qkv, txt_attn.qkv", d, 3 * d, 2 * c.NumLayers));
            list.Add(new("double attn.to_out.0, to_add_out", d, d, 2 * c.NumLayers));
            list.Add(new("double ff(_context).linear_in", d, 2 * m, 2 * c.NumLayers));
            list.Add(new("double ff(_context).linear_out", m, d, 2 * c.NumLayers));
        }
        list.Add(new("single attn.to_qkv_mlp_proj", d, 3 * d + 2 * m, c.NumSingleLayers));
        list.Add(new("single attn.to_out", d + m, d, c.NumSingleLayers));
        return list;
    }

    /// <summary>Trainable parameters of a rank-<paramref name="rank"/> LoRA on <paramref name="targets"/>.</summary>
    public static long LoraParameters(IEnumerable<LoraTarget> targets, int rank) =>
        targets.Sum(t => t.Count * t.LoraParameters(rank));
}
