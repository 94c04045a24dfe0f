using Flux2.Models.TextEncoder;
using Flux2.Models.Vae;
using Flux2.Native;
using Flux2.Training;
using Flux2.Training.Config;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary><c>model.low_vram</c> (issue 6): the text encoder and VAE are parked in CPU memory between uses. CI has no
/// GPU, so the move itself is a no-op here; what is checked: the job trains exactly as without it, and TorchSharp's
/// Module.to — which the parking relies on — also re-points the fields our models read (shown with a dtype move, which
/// takes the same path as a device move).</summary>
public class LowVramTests(ITestOutputHelper output)
{
    [Fact]
    public void ModuleToRepointsTheFieldsTheModelsRead()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = new AutoencoderKLFlux2(VaeConfig.Tiny);
        vae.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, vae.BatchNorm.RunningMean.dtype);   // a readonly field holding a registered buffer
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
        (List<double> losses, string lora, string log) Train(bool lowVram)
        {
            var yaml = TempDataset.Job(dataset, TestPaths.TempDir(), steps: 3)
                .Replace("model: {name_or_path: tiny-random, arch: flux2}", $"model: {{name_or_path: tiny-random, arch: flux2, low_vram: {(lowVram ? "true" : "false")}}}");
            var loaded = JobConfigReader.Parse(yaml, "tiny.yaml");
            Assert.Empty(loaded.Warnings);
            Assert.Equal(lowVram, loaded.Job.Process.Model.LowVram);
            Assert.DoesNotContain("config.process[0].model.low_vram", loaded.IgnoredKeys);
            var losses = new List<double>();
            var log = new List<string>();
            var result = TrainingRun.Run(loaded, new TrainerCallbacks { OnStep = r => losses.Add(r.Loss), OnMessage = log.Add });
            return (losses, result.FinalLora, string.Join("\n", log));
        }
        var plain = Train(false);
        var parked = Train(true);
        output.WriteLine($"losses default [{string.Join(", ", plain.losses)}], low_vram [{string.Join(", ", parked.losses)}]");
        Assert.Contains("low_vram:", parked.log);
        Assert.DoesNotContain("low_vram:", plain.log);
        Assert.Equal(plain.losses, parked.losses);
        using var a = Flux2.IO.SafetensorsSource.OpenFile(plain.lora);
        using var b = Flux2.IO.SafetensorsSource.OpenFile(parked.lora);
        foreach (var key in a.Keys)
        {
            using var x = a.Read(key);
            using var y = b.Read(key);
            Assert.True(x.allclose(y, rtol: 0, atol: 0), $"{key} differs");
        }
    }
}
