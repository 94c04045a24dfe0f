using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Models.Vae;

namespace Flux2.Models;

/// <summary>
/// FLUX.2-micro: the FLUX.2 classes at a size that trains a LoRA on 2 CPU cores in minutes, so the kit works without
/// the gated 100+ GB FLUX.2-dev download. Every default of the micro model is here.
/// <list type="bullet">
/// <item>128×128 images; VAE with 4 levels (8× like FLUX.2) and 16 latent channels → 64-channel 8×8 token
/// grid.</item>
/// <item>Transformer: D = 192 (6 heads × 32, RoPE axes 4×8), 2 double + 6 single blocks, no guidance embedder: like
/// FLUX.2 [klein] base it samples with true classifier-free guidance (docs/flux2-model.md §6.3), learnt with caption
/// dropout.</item>
/// <item>Text encoder: a 3-layer Mistral-architecture model, hidden 64, over GPT-2's vocabulary, kept frozen at its
/// seeded random initialisation: token identity and order still reach the transformer through distinct, fixed
/// embeddings, and freezing it means LoRA runs and the text-embedding cache never see it change.</item></list>
/// </summary>
public static class MicroModel
{
    public const string Name = "flux2-micro";
    public const int Resolution = 128;
    public const int TextTokens = 32;
    /// <summary>Sampling settings written to the model folder's sample_defaults.json. Guidance 2 is where the base
    /// model drew held-out prompts best (`./flux2 eval-base`: 88% at 2 and 2.5, 83% at 3, 69% at 4, 67% at
    /// 6).</summary>
    public const int SampleSteps = 20;
    public const double GuidanceScale = 2.0;
    public static readonly int[] TextEncoderOutLayers = [1, 2, 3];

    public static TransformerConfig Transformer => new()
    {
        InChannels = 64,
        NumLayers = 2,
        NumSingleLayers = 6,
        AttentionHeadDim = 32,
        NumAttentionHeads = 6,
        JointAttentionDim = 3 * 64,
        AxesDimsRope = [8, 8, 8, 8],
        GuidanceEmbeds = false,
    };

    public static VaeConfig Vae => new()
    {
        BlockOutChannels = [32, 64, 96, 96],
        LayersPerBlock = 1,
        LatentChannels = 16,
        NormNumGroups = 8,
        SampleSize = Resolution,
    };

    public static MistralConfig TextEncoder => new()
    {
        VocabSize = Gpt2PromptTokenizer.VocabSize,
        HiddenSize = 64,
        IntermediateSize = 192,
        NumHiddenLayers = 3,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 16,
        RopeTheta = 10000,
        PadTokenId = Gpt2PromptTokenizer.EndOfText,
        BosTokenId = Gpt2PromptTokenizer.EndOfText,
        EosTokenId = Gpt2PromptTokenizer.EndOfText,
    };

    /// <summary>Where the committed weights land next to the binaries (copied there by the build). Located from this
    /// assembly rather than the process, so a notebook kernel that loads Flux2.Core from the build output finds
    /// them.</summary>
    public static string DefaultFolder =>
        Path.Combine(Path.GetDirectoryName(typeof(MicroModel).Assembly.Location) is { Length: > 0 } dir ? dir
            : AppContext.BaseDirectory, "models", Name);
}
