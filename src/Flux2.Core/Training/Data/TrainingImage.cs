using SkiaSharp;
using static TorchSharp.torch;

namespace Flux2.Training.Data;

/// <summary>Loads one dataset image at its bucket size: resized (bicubic) so both sides cover the bucket, then
/// center-cropped (docs/ai-toolkit-compat.md §2.7), optionally mirrored; returned as [3, H, W] in −1..1 (the VAE's
/// input).</summary>
public static class TrainingImage
{
    public static Tensor Load(DatasetItem item)
    {
        using var decoded = SKBitmap.Decode(item.ImagePath)
            ?? throw new InvalidDataException($"{item.ImagePath}: not a readable image");
        double scale = Math.Max((double)item.Width / decoded.Width, (double)item.Height / decoded.Height);
        int w = Math.Max(item.Width, (int)Math.Ceiling(decoded.Width * scale)),
            h = Math.Max(item.Height, (int)Math.Ceiling(decoded.Height * scale));
        using var resized = decoded.Resize(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul),
            new SKSamplingOptions(SKCubicResampler.CatmullRom));
        int x0 = (w - item.Width) / 2, y0 = (h - item.Height) / 2;
        int plane = item.Width * item.Height;
        var rgb = new float[3 * plane];
        var pixels = resized.Pixels;
        for (int y = 0; y < item.Height; y++)
            for (int x = 0; x < item.Width; x++)
            {
                var c = pixels[(y0 + y) * w + x0 + x];
                int sx = item.FlipX ? item.Width - 1 - x : x, sy = item.FlipY ? item.Height - 1 - y : y;
                int i = sy * item.Width + sx;
                rgb[i] = c.Red / 127.5f - 1;
                rgb[plane + i] = c.Green / 127.5f - 1;
                rgb[2 * plane + i] = c.Blue / 127.5f - 1;
            }
        return tensor(rgb, new long[] { 3, item.Height, item.Width });
    }
}
