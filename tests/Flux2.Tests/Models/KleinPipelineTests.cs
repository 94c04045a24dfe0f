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

/// <summary>FLUX.2 [klein] sampling vs diffusers' <c>Flux2KleinPipeline(is_distilled=False)</c> on the
/// flux2-klein-tiny fixture: true classifier-free guidance, the negative embeds with their own length.</summary>
public class KleinPipelineTests(ITestOutputHelper output)
{
    sealed class Fixture : IDisposable
    {
        public readonly Flux2Transformer Transformer;
        public readonly AutoencoderKLFlux2 Vae;
        public readonly Flux2Pipeline Pipe;
        public readonly SafetensorsSource Io;
        public readonly int Steps;
        public readonly float Guidance;

        public Fixture()
        {
            TorchRuntime.EnsureLoaded();
            var dir = TestPaths.Klein;
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "fixture.json")));
            Steps = json.RootElement.GetProperty("steps").GetInt32();
            Guidance = (float)json.RootElement.GetProperty("guidance").GetDouble();
            Transformer = Flux2TransformerFiles.FromFolder(Path.Combine(dir, "transformer"));
            Vae = AutoencoderKLFlux2.FromFolder(Path.Combine(dir, "vae"));
            Pipe = new Flux2Pipeline(Transformer, Vae,
                FlowMatchEulerScheduler.FromJson(Path.Combine(dir, "scheduler", "scheduler_config.json")));
            Io = SafetensorsSource.OpenFile(Path.Combine(dir, "pipeline_io.safetensors"));
        }

        public Tensor Generate(float guidance, bool withNegative) => Pipe.Generate(Io.Read("prompt_embeds"),
            Io.Read("initial_latents"), Steps, guidance, negativeEmbeds: withNegative
                ? Io.Read("negative_prompt_embeds") : null);

        public void Dispose() { Io.Dispose(); Transformer.Dispose(); Vae.Dispose(); }
    }

    [Fact]
    public void TrueCfgLoopMatchesReferenceImages()
    {
        using var f = new Fixture();
        Assert.False(f.Transformer.Config.GuidanceEmbeds);
        Assert.Null(f.Transformer.time_guidance_embed.guidance_embedder);
        using var scope = NewDisposeScope();
        var negative = f.Io.Read("negative_prompt_embeds");
        Assert.NotEqual(f.Io.Read("prompt_embeds").shape[1], negative.shape[1]); // its own text length
        Assert.Equal(f.Guidance, f.Io.Read("guidance").data<float>()[0]);
        var reference = f.Io.Read("images");
        var images = f.Generate(f.Guidance, withNegative: true);
        var err = (images - reference).abs().max().item<float>();
        output.WriteLine($"klein CFG pipeline images max abs error {err:E3} ({f.Steps} steps, scale {f.Guidance})");
        Assert.True(err <= 1e-4, $"max abs error {err}");

        // Without the unconditional pass the result is another image: the fixture tests the guidance.
        var conditionalOnly = f.Generate(f.Guidance, withNegative: false);
        Assert.True((conditionalOnly - reference).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void AScaleOfOneOrLessRunsNoUnconditionalPass()
    {
        using var f = new Fixture();
        using var scope = NewDisposeScope();
        // diffusers: do_classifier_free_guidance = guidance_scale > 1; the step-distilled variant passes no negative.
        var plain = f.Generate(1f, withNegative: false);
        Assert.Equal(0, (f.Generate(1f, withNegative: true) - plain).abs().max().item<float>());
        Assert.Equal(0, (f.Generate(0.5f, withNegative: true) - plain).abs().max().item<float>());
        Assert.Equal(0, (f.Generate(f.Guidance, withNegative: false) - plain).abs().max().item<float>());
    }
}
