using Flux2.Data.Synthetic;
using Flux2.Models;
using SkiaSharp;

namespace Flux2.Micro.Pretraining;

/// <summary>The procedural shape corpus as a pretraining source: <see cref="ShapeCorpus.PretrainingItem"/> i rendered
/// at the micro resolution, as [3, H, W] floats in −1..1 (the VAE's input range), with its caption.</summary>
public static class ShapeCorpusSource
{
    const int LookSalt = 0x10C5;

    public static CaptionedImageSource Create(int seed, int size = MicroModel.Resolution)
    {
        var corpus = new ShapeCorpus(seed);
        return index =>
        {
            var (scene, caption) = corpus.PretrainingItem(index);
            using var bitmap = ShapeCorpus.Render(scene, size, size);
            return (Pixels(bitmap), caption);
        };
    }

    /// <summary>The VAE's training images: corpus item i, drawn in a random <see cref="FramedLook"/> (frame, outlines,
    /// background) for a <paramref name="lookShare"/> of the indices, so the VAE learns to encode and decode looks
    /// that the plain corpus never shows and a style LoRA may teach. The captions are the plain corpus captions (the
    /// VAE does not read them; the transformer trains on <see cref="Create"/>).</summary>
    public static CaptionedImageSource WithLooks(int seed, double lookShare, int size = MicroModel.Resolution)
    {
        var corpus = new ShapeCorpus(seed);
        return index =>
        {
            var (scene, caption) = corpus.PretrainingItem(index);
            var rng = SeedMixer.RandomFor(seed ^ LookSalt, index);
            using var bitmap = rng.NextDouble() < lookShare ? FramedLook.Random(rng).Render(scene, size, size)
                : ShapeCorpus.Render(scene, size, size);
            return (Pixels(bitmap), caption);
        };
    }

    /// <summary>Images of the <c>midnight_tarot</c> style set's look with content from another seed than the shipped
    /// dataset's: how well the VAE reproduces that look.</summary>
    public static CaptionedImageSource StyleLook(int seed, int size = MicroModel.Resolution) => index =>
    {
        using var item = SampleDatasets.StyleItem(seed, (int)index, size);
        return (Pixels(item.Image), item.Caption);
    };

    /// <summary>RGB pixels as [3, H, W] floats in −1..1.</summary>
    public static float[] Pixels(SKBitmap bitmap)
    {
        var rgb = RgbaBitmaps.ToRgb(bitmap);
        int n = bitmap.Width * bitmap.Height;
        var pixels = new float[3 * n];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++)
                pixels[c * n + i] = rgb[3 * i + c] / 127.5f - 1f;
        return pixels;
    }
}
