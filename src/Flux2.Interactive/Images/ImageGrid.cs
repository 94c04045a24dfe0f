using Flux2.Evaluation;
using Flux2.Interactive.Display;
using SkiaSharp;
using static TorchSharp.torch;

namespace Flux2.Interactive.Images;

/// <summary>
/// PNG grids of images with a label under each cell (SkiaSharp): from image files (a dataset, sample grids) or from
/// image tensors [B, 3, H, W] in 0..1 (what <c>Flux2Pipeline.Generate</c> returns). Show with
/// <see cref="Show.Png(PngImage)"/>.
/// </summary>
public static class ImageGrid
{
    const int Pad = 4, FontSize = 11, MaxLabelLines = 3;

    /// <summary>A grid of image files, <paramref name="columns"/> wide, each scaled to <paramref name="cellSize"/>
    /// pixels on its longer side.</summary>
    public static PngImage FromFiles(IReadOnlyList<string> paths, IReadOnlyList<string>? labels = null,
        int columns = 6, int cellSize = 128)
    {
        var bitmaps = paths.Select(p => SKBitmap.Decode(p) ?? throw new InvalidDataException($"{p}: not an image"))
            .ToList();
        try { return Compose(bitmaps, labels, columns, cellSize); }
        finally { foreach (var b in bitmaps) b.Dispose(); }
    }

    /// <summary>A grid of images [B, 3, H, W] (or one [3, H, W]) in 0..1.</summary>
    public static PngImage FromTensor(Tensor images, IReadOnlyList<string>? labels = null, int columns = 4,
        int? cellSize = null)
    {
        var batch = images.dim() == 3 ? images.unsqueeze(0) : images;
        var bitmaps = Enumerable.Range(0, (int)batch.shape[0]).Select(i => ToBitmap(batch[i])).ToList();
        try { return Compose(bitmaps, labels, columns, cellSize ?? (int)batch.shape[3]); }
        finally { foreach (var b in bitmaps) b.Dispose(); }
    }

    /// <summary>Grids side by side with a title over each (e.g. "with trigger" | "without trigger").</summary>
    public static PngImage FromTensors(IReadOnlyList<(string title, Tensor images)> panels,
        IReadOnlyList<string>? rowLabels = null, int? cellSize = null)
    {
        // One column per panel, one row per image: row i shows image i of every panel.
        int rows = (int)panels[0].images.shape[0];
        var bitmaps = new List<SKBitmap>();
        var labels = new List<string>();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < panels.Count; c++)
            {
                bitmaps.Add(ToBitmap(panels[c].images[r]));
                labels.Add(rowLabels is null ? panels[c].title : $"{panels[c].title}: {rowLabels[r]}");
            }
        try { return Compose(bitmaps, labels, panels.Count, cellSize ?? (int)panels[0].images.shape[3]); }
        finally { foreach (var b in bitmaps) b.Dispose(); }
    }

    /// <summary>Lays out bitmaps in a grid, scaled to <paramref name="cellSize"/>, labels wrapped under each.</summary>
    public static PngImage Compose(IReadOnlyList<SKBitmap> images, IReadOnlyList<string>? labels, int columns,
        int cellSize)
    {
        if (images.Count == 0) throw new ArgumentException("no images to lay out");
        columns = Math.Max(1, Math.Min(columns, images.Count));
        int rows = (images.Count + columns - 1) / columns;
        using var font = new SKFont(EvalGrid.LabelTypeface, FontSize);
        using var textPaint = new SKPaint { Color = new SKColor(30, 30, 30), IsAntialias = true };
        var wrapped = Enumerable.Range(0, images.Count)
            .Select(i => labels is not null && i < labels.Count && EvalGrid.LabelTypeface is not null
                ? Wrap(labels[i], font, cellSize) : new List<string>())
            .ToList();
        int labelHeight = wrapped.Count == 0 ? 0 : wrapped.Max(l => l.Count) * (FontSize + 2);
        int cellW = cellSize + Pad, cellH = cellSize + labelHeight + Pad;
        int width = columns * cellW + Pad, height = rows * cellH + Pad;

        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var sampling = new SKPaint { IsAntialias = true };
        for (int i = 0; i < images.Count; i++)
        {
            int x = Pad + (i % columns) * cellW, y = Pad + (i / columns) * cellH;
            var img = images[i];
            float scale = (float)cellSize / Math.Max(img.Width, img.Height);
            var dest = SKRect.Create(x + (cellSize - img.Width * scale) / 2, y + (cellSize - img.Height * scale) / 2,
                img.Width * scale, img.Height * scale);
            using var image = SKImage.FromBitmap(img);
            canvas.DrawImage(image, dest, new SKSamplingOptions(scale >= 1 ? SKFilterMode.Nearest
                : SKFilterMode.Linear), sampling);
            for (int l = 0; l < wrapped[i].Count; l++)
                canvas.DrawText(wrapped[i][l], x, y + cellSize + (l + 1) * (FontSize + 2) - 2, SKTextAlign.Left, font,
                    textPaint);
        }
        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return new PngImage(data.ToArray(), width, height);
    }

    /// <summary>[3, H, W] in 0..1 → an RGBA bitmap.</summary>
    public static SKBitmap ToBitmap(Tensor image01)
    {
        int h = (int)image01.shape[1], w = (int)image01.shape[2];
        using var hwc = (image01.detach().to(ScalarType.Float32).cpu().clamp(0, 1) * 255).round().to(ScalarType.Byte)
            .permute(1, 2, 0).contiguous();
        var rgb = hwc.data<byte>().ToArray();
        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = new byte[w * h * 4];
        for (int i = 0; i < w * h; i++)
        {
            px[4 * i] = rgb[3 * i]; px[4 * i + 1] = rgb[3 * i + 1]; px[4 * i + 2] =
            rgb[3 * i + 2]; px[4 * i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(px, 0, bmp.GetPixels(), px.Length);
        return bmp;
    }

    static List<string> Wrap(string text, SKFont font, int width)
    {
        var lines = new List<string>();
        var line = "";
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = line.Length == 0 ? word : line + " " + word;
            if (font.MeasureText(candidate) <= width || line.Length == 0) line = candidate;
            else { lines.Add(line); line = word; }
        }
        if (line.Length > 0) lines.Add(line);
        if (lines.Count > MaxLabelLines) { lines = lines.Take(MaxLabelLines).ToList(); lines[^1] += "…"; }
        return lines;
    }
}
