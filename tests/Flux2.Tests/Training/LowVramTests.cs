using Flux2.Models.TextEncoder;
using Flux2.Models.Vae;
using Flux2.Native;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary><c>model.low_vram</c>: the text encoder and VAE are parked in CPU memory between uses. CI has no
/// GPU, so the move itself is a no-op here; what is checked: the job trains exactly as without it, and TorchSharp's
/// Module.to — which the parking relies on — also re-points the fields our models read (shown with a dtype move,
/// which takes the same path as a device move).</summary>
public class LowVramTests(ITestOutputHelper output)
{
    [Fact]
    public void ModuleToRepointsTheFieldsTheModelsRead()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = new AutoencoderKLFlux2(VaeConfig.Tiny);
        vae.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64,
            vae.BatchNorm.RunningMean.dtype);   // a readonly field holding a registered buffer
        using var te = new Flux2PromptEncoder(MistralConfig.Tiny, new[] { 1, 2, 3 });
        te.Model.to(ScalarType.Float64);
        Assert.All(te.Model.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
        using var ids = zeros(new long[] { 1, 8 }, ScalarType.Int64);
        using var e = te.Encode(ids, null);                                    // the forward reads the moved weights
        Assert.Equal(ScalarType.Float64, e.dtype);
    }

    [Fact]
    public void LowVramJobTrainsExactlyLikeTheDefault()
    {
        TorchRuntime.EnsureLoaded();
        var dataset = TempDataset.Create();
        TinyRun Train(bool lowVram) => TinyRun.Train(TempDataset.Job(dataset, TestPaths.TempDir(), steps: 3)
            .Replace("model: {name_or_path: tiny-random, arch: flux2}",
                $"model: {{name_or_path: tiny-random, arch: flux2, low_vram: {(lowVram ? "true" : "false")}}}"));
        var plain = Train(false);
        var parked = Train(true);
        output.WriteLine($"losses default [{string.Join(", ", plain.Losses)}], low_vram " +
            $"[{string.Join(", ", parked.Losses)}]");
        Assert.Contains("low_vram:", parked.Log);
        Assert.DoesNotContain("low_vram:", plain.Log);
        Assert.Equal(plain.Losses, parked.Losses);
        TinyRun.AssertSameLora(plain.Lora, parked.Lora, relative: 0);
    }
}
