using SkiaSharp;
using static TorchSharp.torch;

namespace Flux2.Pipeline;

/// <summary>PNG/JPEG/WebP images to and from tensors (SkiaSharp). Tensors are [3, H, W]: in −1..1 for the VAE's
/// input, 0..1 for its post-processed output.</summary>
public static class ImageFile
{
    /// <summary>Writes [3, H, W] in 0..1 as an 8-bit PNG, atomically (temp + rename).</summary>
    public static void SavePng(Tensor image01, string path)
    {
        if (image01.dim() != 3 || image01.shape[0] != 3)
            throw new ArgumentException(
                $"expected an image tensor [3, H, W], got [{string.Join(", ", image01.shape)}]");
        int h = (int)image01.shape[1], w = (int)image01.shape[2];
        using var hwc = (image01.detach().to(ScalarType.Float32).cpu().clamp(0, 1) * 255).round().to(ScalarType.Byte)
            .permute(1, 2, 0).contiguous();
        var rgb = hwc.data<byte>().ToArray();
        using var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = new byte[w * h * 4];
        for (int i = 0; i < w * h; i++)
        {
            px[4 * i] = rgb[3 * i]; px[4 * i + 1] = rgb[3 * i + 1]; px[4 * i + 2] =
            rgb[3 * i + 2]; px[4 * i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(px, 0, bmp.GetPixels(), px.Length);
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + ".tmp");
        try
        {
            Directory.CreateDirectory(dir);
            using (var f = File.Create(tmp)) data.SaveTo(f);
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); }
            catch (Exception d) when (d is IOException or UnauthorizedAccessException) { /* keep the original error */ }
            throw Flux2.IO.OutputFile.WriteFailed(path, tmp, e);
        }
    }

    /// <summary>Reads an image as [3, H, W] in −1..1 (the VAE's input range), optionally resized to fit within
    /// <paramref name="maxPixels"/> and center-cropped to multiples of <paramref name="multiple"/> (docs/flux2-model.md
    /// §3.3).</summary>
    public static Tensor Load(string path, long maxPixels = long.MaxValue, int multiple = 16)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"image not found: {path}");
        using var decoded = SKBitmap.Decode(path)
            ?? throw new InvalidDataException(
                $"{path}: not a readable image (corrupt, empty or an unsupported format)");
        var bmp = decoded;
        double scale = Math.Min(1.0, Math.Sqrt((double)maxPixels / ((long)bmp.Width * bmp.Height)));
        int w = (int)(bmp.Width * scale), h = (int)(bmp.Height * scale);
        SKBitmap? resized = null;
        if (scale < 1.0)
        {
            resized = bmp.Resize(new SKImageInfo(w, h, SKColorType.Rgba8888),
            new SKSamplingOptions(SKCubicResampler.Mitchell)); bmp = resized;
        }
        try
        {
            int cw = w / multiple * multiple, ch = h / multiple * multiple;
            if (cw == 0 || ch == 0)
                throw new InvalidDataException($"{path}: {bmp.Width}x{bmp.Height} is smaller than " +
                    $"{multiple}x{multiple} pixels");
            int x0 = (w - cw) / 2, y0 = (h - ch) / 2;
            var rgb = new float[3 * ch * cw];
            for (int y = 0; y < ch; y++)
                for (int x = 0; x < cw; x++)
                {
                    var c = bmp.GetPixel(x0 + x, y0 + y);
                    int i = y * cw + x;
                    rgb[i] = c.Red / 127.5f - 1;
                    rgb[ch * cw + i] = c.Green / 127.5f - 1;
                    rgb[2 * ch * cw + i] = c.Blue / 127.5f - 1;
                }
            return tensor(rgb, new long[] { 3, ch, cw });
        }
        finally { resized?.Dispose(); }
    }
}
