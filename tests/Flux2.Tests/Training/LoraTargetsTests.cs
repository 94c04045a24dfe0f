using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Network;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>Which Linears get a LoRA on tiny-random (2 double + 2 single blocks).</summary>
public class LoraTargetsTests
{
    static IReadOnlyList<string> Selected(NetworkKwargs kwargs)
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.CreateTinyRandom(0);
        return LoraTargets.Select(models.Transformer, kwargs).Select(t => t.name).ToList();
    }

    [Fact]
    public void DiffusersPresetSelectsImageAttentionOfDoubleBlocksAndBothSingleBlockLinears()
    {
        var expected = new List<string>();
        for (int i = 0; i < 2; i++)
            expected.AddRange(new[] { "to_q", "to_k", "to_v", "to_out.0" }.Select(m =>
                $"transformer_blocks.{i}.attn.{m}"));
        for (int i = 0; i < 2; i++)
            expected.AddRange(new[] { "to_qkv_mlp_proj", "to_out" }.Select(m =>
                $"single_transformer_blocks.{i}.attn.{m}"));
        Assert.Equal(expected.Order(), Selected(new NetworkKwargs { TargetPreset = LoraTargetPreset.Diffusers })
            .Order());
    }

    [Fact]
    public void AiToolkitPresetSelectsEveryLinearInTheBlocks()
    {
        var all = Selected(new NetworkKwargs());
        var perDouble = new[] { "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "attn.add_q_proj",
                                "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out", "ff.linear_in",
                                "ff.linear_out", "ff_context.linear_in", "ff_context.linear_out" };
        var expected = Enumerable.Range(0, 2).SelectMany(i => perDouble.Select(m => $"transformer_blocks.{i}.{m}"))
            .Concat(Enumerable.Range(0, 2).SelectMany(i => new[] { "attn.to_qkv_mlp_proj", "attn.to_out" }.Select(m =>
                $"single_transformer_blocks.{i}.{m}")));
        Assert.Equal(expected.Order(), all.Order());
    }

    [Fact]
    public void FiltersApplyOnTopOfThePreset()
    {
        var kwargs = new NetworkKwargs
        {
            TargetPreset = LoraTargetPreset.Diffusers,
            IgnoreIfContains = { "single_blocks" },
            OnlyIfContains = { "to_q", "linear1" }
        };
        Assert.Equal(new[] { "transformer_blocks.0.attn.to_q", "transformer_blocks.1.attn.to_q" }, Selected(kwargs));
    }

    [Fact]
    public void YamlKeySelectsThePreset()
    {
        var yaml = TempDataset.Job("/data", "/out", 1).Replace("network: {type: lora, linear: 4, linear_alpha: 4}",
            "network: {type: lora, linear: 4, network_kwargs: {target_preset: diffusers}}");
        var loaded = JobConfigReader.Parse(yaml, "job.yaml");
        Assert.Empty(loaded.Warnings);
        Assert.Equal(LoraTargetPreset.Diffusers, loaded.Job.Process.Network.NetworkKwargs.TargetPreset);
    }
}
