using System.Text.Json;
using Flux2.IO;
using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Sampling;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Models;

public class PipelineParityTests(ITestOutputHelper output)
{
    [Fact]
    public void WholeTextToImageLoopMatchesReferenceImages()
    {
        TorchRuntime.EnsureLoaded();
        var tiny = TestPaths.Tiny;
        using var fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(tiny, "fixture.json")));
        int steps = fixture.RootElement.GetProperty("steps").GetInt32();
        using var transformer = Flux2TransformerFiles.FromFolder(Path.Combine(tiny, "transformer"));
        using var vae = AutoencoderKLFlux2.FromFolder(Path.Combine(tiny, "vae"));
        var pipe = new Flux2Pipeline(transformer, vae,
            FlowMatchEulerScheduler.FromJson(Path.Combine(tiny, "scheduler", "scheduler_config.json")));
        using var io = SafetensorsSource.OpenFile(Path.Combine(tiny, "pipeline_io.safetensors"));
        float guidance = io.Read("guidance").data<float>()[0];
        int stepsSeen = 0;
        using var images = pipe.Generate(io.Read("prompt_embeds"), io.Read("initial_latents"), steps, guidance,
            onStep: (i, n) => stepsSeen = i);
        using var reference = io.Read("images");
        Assert.Equal(reference.shape, images.shape);
        var err = (images - reference).abs().max().item<float>();
        output.WriteLine($"pipeline images max abs error {err:E3} ({steps} steps, guidance {guidance})");
        Assert.True(err <= 1e-4, $"max abs error {err}");
        Assert.Equal(steps, stepsSeen);
    }

    [Fact]
    public void ReferenceImageTokensGetTheirOwnTimeCoordinateAndDoNotChangeTheOutputShape()
    {
        TorchRuntime.EnsureLoaded();
        Assert.Equal(10, PositionIds.ReferenceTime(0));
        Assert.Equal(20, PositionIds.ReferenceTime(1));
        using var ids = PositionIds.Image(2, 3, time: 10);
        Assert.Equal(new float[] { 10, 1, 2, 0 }, ids[5].data<float>().ToArray());

        var tiny = TestPaths.Tiny;
        using var transformer = Flux2TransformerFiles.FromFolder(Path.Combine(tiny, "transformer"));
        using var vae = AutoencoderKLFlux2.FromFolder(Path.Combine(tiny, "vae"));
        var pipe = new Flux2Pipeline(transformer, vae, new FlowMatchEulerScheduler());
        using var io = SafetensorsSource.OpenFile(Path.Combine(tiny, "pipeline_io.safetensors"));
        using var plain = pipe.Generate(io.Read("prompt_embeds"), io.Read("initial_latents"), 2, 3.5f);
        using var reference = rand(3, 32, 32) * 2 - 1;
        using var edited = pipe.Generate(io.Read("prompt_embeds"), io.Read("initial_latents"), 2, 3.5f,
            new[] { reference });
        Assert.Equal(plain.shape, edited.shape);
        Assert.True((plain - edited).abs().max().item<float>() > 1e-4, "a reference image must influence the result");
    }
}
