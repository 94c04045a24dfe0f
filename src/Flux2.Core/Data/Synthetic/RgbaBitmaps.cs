using System.Runtime.InteropServices;
using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>Moves pixels between plain byte arrays (where the deterministic painting happens) and Skia bitmaps
/// (where paths are drawn and PNGs encoded). Bitmaps are RGBA8888 opaque, so bytes map one to one.</summary>
public static class RgbaBitmaps
{
    public static SKBitmap FromRgba(byte[] rgba, int width, int height)
    {
        if (rgba.Length != width * height * 4)
            throw new ArgumentException($"expected {width * height * 4} RGBA bytes for " +
                $"{width}x{height}, got {rgba.Length}");
        var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
        return bmp;
    }

    /// <summary>The bitmap as RGBA bytes (converted first if it is not RGBA8888, e.g. a decoded PNG).</summary>
    public static byte[] ToRgba(SKBitmap bitmap)
    {
        var converted = bitmap.ColorType == SKColorType.Rgba8888 ? null
            : bitmap.Copy(SKColorType.Rgba8888)
                ?? throw new InvalidDataException($"cannot convert a {bitmap.ColorType} bitmap to RGBA");
        var source = converted ?? bitmap;
        try
        {
            var rgba = new byte[source.Width * source.Height * 4];
            Marshal.Copy(source.GetPixels(), rgba, 0, rgba.Length);
            return rgba;
        }
        finally { converted?.Dispose(); }
    }

    /// <summary>Packed RGB (3 bytes a pixel), the layout <see cref="SceneCheck"/> and tensors use.</summary>
    public static byte[] ToRgb(SKBitmap bitmap)
    {
        var rgba = ToRgba(bitmap);
        var rgb = new byte[rgba.Length / 4 * 3];
        for (int i = 0, j = 0; i < rgba.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
        return rgb;
    }

    /// <summary>PNG bytes with fixed encoder options, so the same pixels always give the same file.</summary>
    public static byte[] EncodePng(SKBitmap bitmap)
    {
        using var pixmap = bitmap.PeekPixels();
        var options = new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, zLibLevel: 9);
        using var data = pixmap.Encode(options) ?? throw new InvalidOperationException("PNG encoding failed");
        return data.ToArray();
    }
}
