using Flux2.Models;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Tests.Evaluation;
using Flux2.Training.Config;
using Flux2.Training.Previews;
using SkiaSharp;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>The trainer's sample grids on FLUX.2-micro (true classifier-free guidance, no guidance embedder) apply
/// sample.guidance_scale: guidance 1 and 4 give different images.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class SampleGridGuidanceTests
{
    [MicroModelFact]
    public void GuidanceScaleChangesMicroSampleGrids()
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.Load(MicroModel.Name);
        byte[] Grid(double guidance)
        {
            var folder = TestPaths.TempDir();
            var config = new SampleConfig
            {
                Width = 64,
                Height = 64,
                SampleSteps = 4,
                GuidanceScale = guidance,
                Prompts = ["a large red circle in the center on a blue background"],
            };
            var report = new SampleGrid(models, config, null, folder).Render(0)!;
            using var png = SKBitmap.Decode(report.GridPath);
            return Flux2.Data.Synthetic.RgbaBitmaps.ToRgb(png);
        }
        var plain = Grid(1);
        var guided = Grid(4);
        Assert.Equal(plain.Length, guided.Length);
        Assert.False(plain.SequenceEqual(guided), "guidance 4 rendered the same grid as guidance 1");
    }
}
