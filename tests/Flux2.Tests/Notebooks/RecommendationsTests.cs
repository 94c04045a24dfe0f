using Flux2.Interactive;
using Flux2.Models.Transformer;
using Xunit;

namespace Flux2.Tests.Notebooks;

public sealed class RecommendationsTests
{
    [Theory]
    [InlineData(8, false, "-")]
    [InlineData(16, false, "-")]
    [InlineData(19.9, false, "-")]
    [InlineData(20, true, "8–16")]
    [InlineData(32, true, "8–16")]
    [InlineData(24, true, "8–16")]
    [InlineData(48, true, "32")]
    [InlineData(80, true, "32–64")]
    [InlineData(141, true, "32–64")]
    public void Tiers_follow_the_guide(double gib, bool fits, string rank)
    {
        var a = Recommendations.ForVram(gib);
        Assert.Equal(fits, a.Fits);
        Assert.Equal(rank, a.Rank);
    }

    [Fact]
    public void Each_tier_starts_above_the_peak_measured_for_its_settings()
    {
        // FLUX.2-dev at 1024², rank 32: tier A 19.2 GiB, B 38.4 GiB, C 66.0 GiB peak GPU memory.
        double[] peaks = [19.2, 38.4, 66.0];
        var fitting = Recommendations.Tiers.Where(t => t.Fits).ToList();
        Assert.Equal(peaks.Length, fitting.Count);
        for (int i = 0; i < peaks.Length; i++) Assert.True(fitting[i].MinGiB > peaks[i], fitting[i].Tier);
        Assert.Equal(Recommendations.Tiers.OrderBy(t => t.MinGiB), Recommendations.Tiers);
    }

    [Fact]
    public void Tier_A_offloads_and_quantizes_tier_C_does_neither_and_turns_DOP_on()
    {
        var a = Recommendations.ForVram(24);
        Assert.True(a.LowVram && a.LayerOffloading);
        Assert.Equal("float8", a.TransformerQuantization);
        Assert.False(a.DifferentialOutputPreservation);
        var b = Recommendations.ForVram(48);
        Assert.True(b.LowVram);
        Assert.False(b.LayerOffloading);
        var c = Recommendations.ForVram(80);
        Assert.False(c.LowVram || c.LayerOffloading);
        Assert.True(c.DifferentialOutputPreservation);
        Assert.Throws<ArgumentOutOfRangeException>(() => Recommendations.ForVram(-1));
    }

    [Fact]
    public void Lora_targets_of_dev_have_the_reference_shapes()
    {
        var ai = Recommendations.Targets(TransformerConfig.Dev, diffusers: false);
        var df = Recommendations.Targets(TransformerConfig.Dev, diffusers: true);
        var qkvMlp = df.Single(t => t.Name.Contains("to_qkv_mlp_proj"));
        Assert.Equal((6144L, 55296L, 48), (qkvMlp.In, qkvMlp.Out, qkvMlp.Count));
        Assert.Equal(32L * (6144 + 55296), qkvMlp.LoraParameters(32));
        // ai-toolkit's targets are every Linear inside the blocks: their weights are the blocks' parameters minus
        // norms.
        long blockWeights = ai.Sum(t => t.Count * t.LayerParameters);
        long d = 6144, m = 18432;
        Assert.Equal(8 * (8 * d * d + 6 * m * d) + 48 * ((3 * d + 2 * m) * d + (d + m) * d), blockWeights);
        Assert.True(Recommendations.LoraParameters(ai, 16) > Recommendations.LoraParameters(df, 16));
        Assert.Equal(2 * Recommendations.LoraParameters(df, 16), Recommendations.LoraParameters(df, 32));
    }

    [Fact]
    public void Each_klein_tier_starts_above_the_peak_measured_for_its_settings()
    {
        // klein at 1024², rank 32 (docs/performance.md): 4B tiers A-C 5.1, 6.9, 9.9 GiB; 9B 8.0, 12.9, 20.4 GiB.
        foreach (var (tiers, peaks) in new[]
                 {
                     (Recommendations.Klein4BTiers, new[] { 5.1, 6.9, 9.9 }),
                     (Recommendations.Klein9BTiers, new[] { 8.0, 12.9, 20.4 }),
                 })
        {
            var fitting = tiers.Where(t => t.Fits).ToList();
            Assert.Equal(peaks.Length, fitting.Count);
            for (int i = 0; i < peaks.Length; i++) Assert.True(fitting[i].MinGiB > peaks[i], fitting[i].Tier);
            Assert.Equal(tiers.OrderBy(t => t.MinGiB), tiers);
            Assert.All(tiers, t => Assert.True(t.LowVram && !t.DifferentialOutputPreservation, t.Tier));
        }
        // The measured runs trained diffusers' targets; the extra LoRA of ai-toolkit's targets that the tier notes
        // state (12.8 M and 27.3 M parameters at rank 32, q, k and v fused) is this difference.
        long Extra(TransformerConfig c) =>
            Recommendations.LoraParameters(Recommendations.Targets(c, diffusers: false), 32)
            - Recommendations.LoraParameters(Recommendations.Targets(c, diffusers: true), 32);
        Assert.Equal(12_779_520, Extra(TransformerConfig.Klein4B));
        Assert.Equal(27_262_976, Extra(TransformerConfig.Klein9B));
    }

    [Theory]
    [InlineData(4, false, false)]
    [InlineData(8, true, false)]
    [InlineData(12, true, true)]
    [InlineData(16, true, true)]
    public void Klein_tiers_by_card_memory(double gib, bool fits4B, bool fits9B)
    {
        Assert.Equal(fits4B, Recommendations.ForVram(gib, Recommendations.Klein4BTiers).Fits);
        Assert.Equal(fits9B, Recommendations.ForVram(gib, Recommendations.Klein9BTiers).Fits);
        Assert.Equal("bf16", Recommendations.ForVram(16, Recommendations.Klein4BTiers).TransformerQuantization);
        Assert.True(Recommendations.ForVram(12, Recommendations.Klein9BTiers).LayerOffloading);
    }
}
