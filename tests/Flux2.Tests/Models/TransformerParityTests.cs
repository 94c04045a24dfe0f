using Flux2.IO;
using Flux2.Lora;
using Flux2.Models.Transformer;
using Flux2.Native;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Models;

public class TransformerParityTests(ITestOutputHelper output)
{
    const double Tolerance = 1e-4;

    [Fact]
    public void OutputMatchesReference()
    {
        TorchRuntime.EnsureLoaded();
        using var model = Flux2TransformerFiles.FromFolder(Path.Combine(TestPaths.Tiny, "transformer"));
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "transformer_io.safetensors"));
        using var _ = no_grad();
        using var outp = model.Forward(io.Read("hidden_states"), io.Read("encoder_hidden_states"), io.Read("timestep"),
                                        io.Read("guidance"), io.Read("img_ids"), io.Read("txt_ids"));
        var err = (outp - io.Read("output")).abs().max().item<float>();
        output.WriteLine($"transformer output max abs error {err:E3}");
        Assert.True(err <= Tolerance, $"max abs error {err}");
    }

    [Fact]
    public void OutputWithPeftLoraMatchesReference_AndStrengthZeroOrRemovalRestoresBase()
    {
        TorchRuntime.EnsureLoaded();
        using var model = Flux2TransformerFiles.FromFolder(Path.Combine(TestPaths.Tiny, "transformer"));
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "transformer_io.safetensors"));
        using var _ = no_grad();
        Tensor Run() => model.Forward(io.Read("hidden_states"), io.Read("encoder_hidden_states"), io.Read("timestep"),
                                      io.Read("guidance"), io.Read("img_ids"), io.Read("txt_ids"));
        var adapters = LoraLoader.Apply(model, Path.Combine(TestPaths.Tiny, "lora",
            "pytorch_lora_weights.safetensors"));
        Assert.Equal(12, adapters.Count); // 2 double blocks x (to_q, to_k, to_v, to_out.0) + 2 single blocks x 2
        Assert.All(adapters, a => Assert.Equal(2.0, a.Scale)); // alpha 8 / r 4 from the header metadata
        var err = (Run() - io.Read("output_with_lora")).abs().max().item<float>();
        output.WriteLine($"transformer output_with_lora max abs error {err:E3}");
        Assert.True(err <= Tolerance, $"max abs error {err}");

        foreach (var a in adapters) a.Scale = 0;
        Assert.True((Run() - io.Read("output")).abs().max().item<float>() <= Tolerance);
        LoraLoader.Remove(model, adapters);
        Assert.True((Run() - io.Read("output")).abs().max().item<float>() <= Tolerance);
    }

    [Fact]
    public void ComfyUiLayoutWithFusedQkvReproducesTheSameOutput()
    {
        TorchRuntime.EnsureLoaded();
        var peft = LoraFile.Read(Path.Combine(TestPaths.Tiny, "lora", "pytorch_lora_weights.safetensors"));
        var comfy = Path.Combine(TestPaths.TempDir(), "lora_comfyui.safetensors");
        LoraExport.WriteComfyUi(comfy, peft);
        using (var f = SafetensorsFile.Open(comfy))
        {
            Assert.Contains("diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight", f.Keys);
            Assert.Equal(new long[] { 12, 64 },
                f.Entries["diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight"].Shape); // 3 x r 4
            Assert.Equal(new long[] { 192, 12 },
                f.Entries["diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight"].Shape);
            Assert.DoesNotContain(f.Keys, k => k.StartsWith("transformer."));
        }
        using var model = Flux2TransformerFiles.FromFolder(Path.Combine(TestPaths.Tiny, "transformer"));
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "transformer_io.safetensors"));
        using var _ = no_grad();
        LoraLoader.Apply(model, comfy);
        using var outp = model.Forward(io.Read("hidden_states"), io.Read("encoder_hidden_states"), io.Read("timestep"),
                                       io.Read("guidance"), io.Read("img_ids"), io.Read("txt_ids"));
        var err = (outp - io.Read("output_with_lora")).abs().max().item<float>();
        output.WriteLine($"ComfyUI-layout LoRA output max abs error {err:E3}");
        Assert.True(err <= Tolerance, $"max abs error {err}");
    }

    [Fact]
    public void LoraForAnotherModelSizeIsRefusedWithModuleAndShapes()
    {
        TorchRuntime.EnsureLoaded();
        using var model = new Flux2Transformer(TransformerConfig.Tiny with
        {
            NumAttentionHeads = 2,
            AxesDimsRope = new[] { 4, 4, 4, 4 }
        });
        var e = Assert.Throws<InvalidDataException>(() => LoraLoader.Apply(model,
            Path.Combine(TestPaths.Tiny, "lora", "pytorch_lora_weights.safetensors")));
        Assert.Contains("transformer_blocks.0.attn", e.Message);
        Assert.All(model.named_modules().Select(m => m.module).OfType<Flux2.Nn.Linear>(),
            l => Assert.Empty(l.Adapters));
    }

    [Fact]
    public void DevConfigParameterCountMatchesReference()
    {
        Assert.Equal(32_223_281_152L, TransformerConfig.Dev.ParameterCount());
        Assert.Equal(3_875_544_576L, TransformerConfig.Klein4B.ParameterCount());
        Assert.Equal(9_078_581_248L, TransformerConfig.Klein9B.ParameterCount());
    }

    [Fact]
    public void BuiltModuleHasTheParametersTheFormulaCounts()
    {
        TorchRuntime.EnsureLoaded();
        using var model = new Flux2Transformer(TransformerConfig.Tiny);
        Assert.Equal(TransformerConfig.Tiny.ParameterCount(), model.ParameterCount());
        var noGuidance = TransformerConfig.Tiny with { GuidanceEmbeds = false };
        using var m2 = new Flux2Transformer(noGuidance);
        Assert.Equal(noGuidance.ParameterCount(), m2.ParameterCount());
    }

    [Fact]
    public void InconsistentConfigIsRejectedWithTheKey()
    {
        var bad = TransformerConfig.Tiny with { AxesDimsRope = new[] { 4, 4, 4, 2 } };
        var e = Assert.Throws<ConfigException>(() => bad.Validate("x/config.json"));
        Assert.Equal("axes_dims_rope", e.Key);
        Assert.Contains("x/config.json", e.Message);
        Assert.Contains("axes_dims_rope", e.Message);
    }
}
