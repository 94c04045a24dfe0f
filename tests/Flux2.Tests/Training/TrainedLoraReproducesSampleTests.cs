using Flux2.Lora;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.Data;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary>The LoRA file a run writes, loaded through <see cref="LoraLoader"/> into a fresh
/// model, renders the trainer's own final sample (same prompt and seed) — in either save layout.</summary>
[Collection(TorchGlobalRngCollection.Name)] // a fresh tiny-random equals the trainer's only without parallel draws
public class TrainedLoraReproducesSampleTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("comfyui", 4)]
    [InlineData("diffusers", 4)]
    [InlineData("diffusers", 8)] // alpha/rank 2, baked into lora_B
    public void SavedLoraRendersTheTrainersFinalSample(string layout, int alpha)
    {
        TorchRuntime.EnsureLoaded();
        const int steps = 4;
        var yaml = TempDataset.Job(TempDataset.Create(), TestPaths.TempDir(), steps)
            .Replace("max_step_saves_to_keep: 1}", $"max_step_saves_to_keep: 1, lora_format: {layout}}}")
            .Replace("linear: 4, linear_alpha: 4", $"linear: 4, linear_alpha: {alpha}");
        var loaded = JobConfigReader.Parse(yaml, "tiny.yaml");
        Assert.Empty(loaded.Warnings);
        var p = loaded.Job.Process;
        Assert.Equal(layout == "diffusers" ? LoraLayout.Diffusers : LoraLayout.Comfyui, p.Save.LoraFormat);
        Assert.Equal(alpha / 4.0, p.Network.Scale);

        string final = "", grid = "";
        Tensor inMemory;
        using (var models = Flux2Models.Load(p.Model.NameOrPath, CPU))
        using (var task = new Flux2LoraTask(models, loaded.Job))
        {
            new Trainer(task, TrainerOptions.From(p), new TrainerCallbacks
            {
                OnSave = r => { if (r.Final) final = r.Path; },
                OnSample = r => grid = r.GridPath,
            }).Run();
            inMemory = Render(models, p);   // the trainer's model, adapters still attached
        }
        Assert.EndsWith($"{steps:D9}.png", grid);
        Assert.Equal(LoraFileInfo.Read(final).Layout, p.Save.LoraFormat);

        // The in-memory render is the trainer's sample: the first cell of its grid, to the byte.
        var pngCell = ReadPngCell(grid, (int)inMemory.shape[2], (int)inMemory.shape[1]);
        var expectedBytes = (inMemory.clamp(0, 1) * 255).round().to(ScalarType.Byte);
        Assert.True(pngCell.equal(expectedBytes).all().item<bool>(),
            "the re-rendered sample differs from the trainer's grid");

        using var fresh = Flux2Models.Load(p.Model.NameOrPath, CPU);
        using var without = Render(fresh, p);
        LoraLoader.Apply(fresh.Transformer, final);
        using var fromFile = Render(fresh, p);
        var err = (fromFile - inMemory).abs().max().item<float>();
        var effect = (inMemory - without).abs().max().item<float>();
        output.WriteLine($"{layout}: |file − trainer| max {err:E2}; " +
            $"the LoRA itself changes the sample by up to {effect:E2}");
        Assert.True(effect > 1e-3,
            $"the LoRA barely changes the sample ({effect}), so the comparison would prove nothing");
        Assert.True(err <= 1e-5, $"sample from the loaded file differs by {err}");
        inMemory.Dispose();
    }

    /// <summary>First prompt of the sample config, rendered the way <see cref="Flux2.Training.Previews.SampleGrid"/>
    /// does.</summary>
    static Tensor Render(Flux2Models models, ProcessConfig p)
    {
        using var _ = no_grad();
        var s = p.Sample;
        var prompt = CaptionRules.InjectTrigger(s.AllPrompts[0], p.TriggerWord, addIfMissing: false);
        int f = models.Pipeline.PixelsPerToken;
        int width = Math.Max(f, s.Width / f * f), height = Math.Max(f, s.Height / f * f);
        using var embeds = models.EncodePrompts(new[] { prompt });
        using var noise = models.Pipeline.InitialNoise(1, height, width, s.Seed, CPU);
        return models.Pipeline.Generate(embeds, noise, s.SampleSteps, (float)s.GuidanceScale)[0].cpu();
    }

    static Tensor ReadPngCell(string path, int width, int height)
    {
        using var bmp = SKBitmap.Decode(path);
        var bytes = new byte[3 * height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = bmp.GetPixel(x, y);
                bytes[(0 * height + y) * width + x] = c.Red;
                bytes[(1 * height + y) * width + x] = c.Green;
                bytes[(2 * height + y) * width + x] = c.Blue;
            }
        return tensor(bytes).view(3, height, width);
    }
}
