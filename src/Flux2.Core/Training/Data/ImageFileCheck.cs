using Flux2.IO;
using SkiaSharp;

namespace Flux2.Training.Data;

/// <summary>
/// Whether an image file can be trained on, and why not: missing, empty, unreadable, corrupt or truncated, larger than
/// <see cref="MaxMegapixels"/> (a 100-MP scan would take gigabytes to decode and is never what the user meant), or
/// smaller than the model's pixel grid. The header is read first so an oversized file is refused without decoding it.
/// </summary>
public static class ImageFileCheck
{
    public const double MaxMegapixels = 40;

    /// <summary>The image's size, or null with the reason in <paramref name="why"/>.</summary>
    public static (int w, int h)? Size(string file, int pixelMultiple, out string? why)
    {
        why = null;
        try
        {
            // Devices and FIFOs report 0 bytes: they are refused here, before a decoder opens (and blocks on) them.
            var info = SmallTextFile.StatTarget(file);
            if (!info.Exists) { why = "file not found"; return null; }
            if (info.Length == 0) { why = "empty file (0 bytes) or not a regular file"; return null; }
            using var codec = SKCodec.Create(file);
            if (codec is null) { why = "not a readable image (corrupt or an unsupported format)"; return null; }
            int w = codec.Info.Width, h = codec.Info.Height;
            double mp = (double)w * h / 1e6;
            if (mp > MaxMegapixels)
            {
                why = $"{w}x{h} is {mp:F0} megapixels, over the {MaxMegapixels:F0}-megapixel limit; downscale it first";
                return null;
            }
            if (w < pixelMultiple || h < pixelMultiple)
            {
                why = $"{w}x{h} is smaller than the model's {pixelMultiple}-pixel grid";
                return null;
            }
            // A full decode (not just the header), so truncated files are caught here, not mid-run: Skia returns a
            // partly filled bitmap for them and says so only in the codec result.
            using var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
            var result = codec.GetPixels(bmp.Info, bmp.GetPixels());
            if (result != SKCodecResult.Success)
            {
                why = $"not a readable image (corrupt or truncated: {result})";
                return null;
            }
            return (w, h);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            why = $"cannot be read: {e.Message}";
            return null;
        }
    }
}
