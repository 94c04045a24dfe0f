using Flux2.Diagnostics;
using Flux2.Models.Transformer;
using Xunit;

namespace Flux2.Tests.Diagnostics;

public class TransformerFlopsTests
{
    /// <summary>
    /// Tiny config with one double and one single block: D = 4·16 = 64, M = 3·64 = 192, in_channels 16,
    /// joint_attention_dim 48, 256 timestep channels, guidance embedder on. Ni = 4, Nt = 2 (S = 6), rank 2. By hand:
    /// <code>
    /// double, per token of one stream: 4·64·64 + 64·384 + 192·64 = 53248 MACs → img 4·53248 + txt 2·53248 =
    /// 319488 MACs single, per token: 64·576 + 256·64 = 53248 MACs → 6 tokens: 319488 MACs      block Linears:
    /// 2·638976 = 1277952 attention: 2 blocks · 4·S²·D = 2 · 4·36·64
    /// = 18432 LoRA, r·(in+out) per token: stream 4·128 + 448 + 256 = 1216; single 640 + 320 = 960
    ///       2·r·(4·1216 + 2·1216 + 6·960) = 4 · 13056                                                = 52224
    /// outside: x_embedder 2·4·16·64 = 8192, context_embedder 2·2·48·64 = 12288, proj_out 2·4·64·16 = 8192,
    ///       time + guidance MLPs 2 · 2·(256·64 + 64·64) = 81920, modulations 2·64·384·2 + 2·64·192 = 122880,
    ///       norm_out 2·64·128 = 16384                                                                 = 249856
    /// </code>
    /// </summary>
    [Fact]
    public void TinyConfigMatchesTheHandCount()
    {
        var c = TransformerConfig.Tiny with { NumLayers = 1, NumSingleLayers = 1 };
        var f = TransformerFlops.For(c, imageTokens: 4, textTokens: 2, loraRank: 2);
        Assert.Equal(1277952, f.BlockLinear);
        Assert.Equal(18432, f.Attention);
        Assert.Equal(52224, f.Lora);
        Assert.Equal(249856, f.OutsideBlocks);
        Assert.Equal(8192, f.OutputBackward);                                   // proj_out's input gradient
        Assert.Equal(1598464, f.Forward);
        Assert.Equal(1277952 + 2 * 18432 + 2 * 52224 + 8192, f.Backward);
        Assert.Equal(1598464 + 1427456, f.TrainingStep);
        Assert.Equal(3025920 + 1348608, f.TrainingStepExecuted(checkpointing: true));
        Assert.Equal(f.TrainingStep, f.TrainingStepExecuted(checkpointing: false));
        Assert.Equal(2 * f.Forward, TransformerFlops.For(c, 4, 2, 2, batch: 2).Forward);
    }

    /// <summary>Independent of the per-layer table: single-block Linear FLOPs at FLUX.2-dev size are 2 · tokens ·
    /// the single blocks' weight count, taken from <see cref="TransformerConfig.ParameterCount"/>.</summary>
    [Fact]
    public void SingleBlockLinearsAreTwoFlopsPerWeightPerToken()
    {
        var c = TransformerConfig.Dev with { NumLayers = 0 };
        long weights = c.ParameterCount() - (c with { NumSingleLayers = 0 }).ParameterCount()
                       - c.NumSingleLayers * 2L * c.AttentionHeadDim;
        var f = TransformerFlops.For(c, imageTokens: 1024, textTokens: 512, loraRank: 0);
        Assert.Equal(2.0 * 1536 * weights, f.BlockLinear, 6);
        Assert.Equal(0, f.Lora);
    }

    [Fact]
    public void DevAt1024IsAboutWhatTheModelSizeSays()
    {
        // 32 B parameters, ~4600 tokens: a forward is roughly 2 · 30e9 · 4.6e3 ≈ 280 TFLOP plus attention.
        var f = TransformerFlops.For(TransformerConfig.Dev, imageTokens: 4096, textTokens: 512, loraRank: 32);
        Assert.InRange(f.Forward / 1e12, 250, 400);
        Assert.InRange(f.Attention / f.Forward, 0.1, 0.3);
    }

    [Fact]
    public void RejectsNonsense() => Assert.Throws<ArgumentOutOfRangeException>(() =>
        TransformerFlops.For(TransformerConfig.Tiny, 0, 2, 2));
}
