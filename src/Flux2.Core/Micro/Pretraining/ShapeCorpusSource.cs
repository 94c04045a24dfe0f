using Flux2.Data.Synthetic;
using Flux2.Models;

namespace Flux2.Micro.Pretraining;

/// <summary>The procedural shape corpus as a pretraining source: <see cref="ShapeCorpus.PretrainingItem"/> i rendered
/// at the micro resolution, as [3, H, W] floats in −1..1 (the VAE's input range), with its caption.</summary>
public static class ShapeCorpusSource
{
    public static CaptionedImageSource Create(int seed, int size = MicroModel.Resolution)
    {
        var corpus = new ShapeCorpus(seed);
        return index =>
        {
            var (scene, caption) = corpus.PretrainingItem(index);
            using var bitmap = ShapeCorpus.Render(scene, size, size);
            var rgb = RgbaBitmaps.ToRgb(bitmap);
            int n = size * size;
            var pixels = new float[3 * n];
            for (int i = 0; i < n; i++)
                for (int c = 0; c < 3; c++)
                    pixels[c * n + i] = rgb[3 * i + c] / 127.5f - 1f;
            return (pixels, caption);
        };
    }
}
