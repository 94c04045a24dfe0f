using Flux2.Data.Synthetic;
using SkiaSharp;
using static TorchSharp.torch;

namespace Flux2.Evaluation;

/// <summary>The evaluator's four image sets, [seeds·prompts, 3, H, W] in 0..1, seed-major (see
/// <see cref="LoraEvalResult"/>): valid only during the callback that receives them.</summary>
public sealed record EvalImages(Tensor BaseTrigger, Tensor LoraTrigger, Tensor BaseNoTrigger, Tensor LoraNoTrigger);

/// <summary>The first seed's images of an evaluation as packed RGB, one array per prompt in each column of
/// <see cref="EvalGrid.Columns"/> after the dataset reference.</summary>
public sealed record EvalGridImages(int Width, int Height, IReadOnlyList<byte[]> Base,
    IReadOnlyList<byte[]> LoraTrigger, IReadOnlyList<byte[]> LoraNoTrigger, IReadOnlyList<byte[]> Bleed);

/// <summary>
/// The evaluation comparison grid (eval.png next to eval.json): a row per evaluation prompt (first seed), columns
/// dataset reference | base (trigger prompt) | LoRA + trigger | LoRA, no trigger | |LoRA − base| without trigger as a
/// heat map (where the LoRA changes images it should leave alone: bleed). Titles and each row's prompt are drawn into
/// the PNG; images are upscaled by whole pixels (nearest neighbour) so 128² cells are readable (3×).
/// </summary>
public static class EvalGrid
{
    public const string FileName = "eval.png";

    public static readonly IReadOnlyList<string> Columns =
    [
        "dataset reference", "base (trigger prompt)", "LoRA + trigger", "LoRA, no trigger",
        "|LoRA - base|, no trigger",
    ];

    /// <summary>The mean |Δ| over channels (0..1) shown as the brightest heat colour; larger differences
    /// clip.</summary>
    public const double HeatFullScale = 0.5;

    /// <summary>Cells are upscaled to about this many pixels on their longer side.</summary>
    public const int DisplaySide = 384;

    public const int HeaderHeight = 28, CaptionHeight = 20, Pad = 4;

    /// <summary>Whole-pixel upscale factor for <paramref name="width"/>×<paramref name="height"/> cells: 3 for
    /// 128², 1 for 384² and larger.</summary>
    public static int ScaleFor(int width, int height) => Math.Max(1, DisplaySide / Math.Max(width, height));

    /// <summary>Nearest-neighbour upscale of packed RGB by a whole <paramref name="factor"/>.</summary>
    public static byte[] Upscale(byte[] rgb, int width, int height, int factor)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException($"expected {width * height * 3} RGB bytes");
        int w = width * factor, h = height * factor;
        var o = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                Array.Copy(rgb, ((y / factor) * width + x / factor) * 3, o, (y * w + x) * 3, 3);
        return o;
    }

    /// <summary>Black at 0, through red and yellow, to white at <see cref="HeatFullScale"/> and above.</summary>
    public static (byte R, byte G, byte B) HeatColor(double difference)
    {
        double t = Math.Clamp(difference / HeatFullScale, 0, 1) * 3;
        byte C(double v) => (byte)Math.Round(255 * Math.Clamp(v, 0, 1));
        return (C(t), C(t - 1), C(t - 2));
    }

    /// <summary>Per pixel, the mean over channels of |a − b| (packed RGB, 0..1 units) as a
    /// <see cref="HeatColor"/>.</summary>
    public static byte[] HeatMap(byte[] a, byte[] b)
    {
        if (a.Length != b.Length || a.Length % 3 != 0) throw new ArgumentException("heat map of unequal images");
        var o = new byte[a.Length];
        for (int i = 0; i < a.Length; i += 3)
        {
            double d = (Math.Abs(a[i] - b[i]) + Math.Abs(a[i + 1] - b[i + 1]) + Math.Abs(a[i + 2] - b[i + 2]))
                / (3 * 255.0);
            (o[i], o[i + 1], o[i + 2]) = HeatColor(d);
        }
        return o;
    }

    /// <summary>Where things go in a grid of <paramref name="columns"/> × <paramref name="rows"/> cells of
    /// <paramref name="cellWidth"/> × <paramref name="cellHeight"/> display pixels: a title row on top, a caption line
    /// above each row of cells, <see cref="Pad"/> pixels between columns and around.</summary>
    public sealed record GridLayout(int Columns, int Rows, int CellWidth, int CellHeight)
    {
        public int Width => Pad + Columns * (CellWidth + Pad);
        public int Height => HeaderHeight + Rows * (CaptionHeight + CellHeight + Pad);
        public int CellX(int column) => Pad + column * (CellWidth + Pad);
        public int CellY(int row) => HeaderHeight + row * (CaptionHeight + CellHeight + Pad) + CaptionHeight;
    }

    /// <summary>Copies the first seed's images (the first <paramref name="prompts"/> of each set) out of the
    /// evaluator's tensors, with the bleed heat map.</summary>
    public static EvalGridImages Capture(EvalImages images, int prompts)
    {
        int h = (int)images.BaseTrigger.shape[2], w = (int)images.BaseTrigger.shape[3];
        List<byte[]> First(Tensor t) => Enumerable.Range(0, prompts).Select(i => ToRgb(t[i])).ToList();
        var plainBase = First(images.BaseNoTrigger);
        var plainLora = First(images.LoraNoTrigger);
        return new(w, h, First(images.BaseTrigger), First(images.LoraTrigger), plainLora,
            plainLora.Zip(plainBase, HeatMap).ToList());
    }

    /// <summary>[3, H, W] in 0..1 → packed RGB bytes, rounded like a saved PNG.</summary>
    public static byte[] ToRgb(Tensor image01)
    {
        using var scope = NewDisposeScope();
        var hwc = (image01.detach().to(ScalarType.Float32).cpu().clamp(0, 1) * 255).round().to(ScalarType.Byte)
            .permute(1, 2, 0).contiguous();
        return hwc.data<byte>().ToArray();
    }

    /// <summary>Draws the grid and writes it as a PNG (atomically); <paramref name="references"/> are the dataset's
    /// images at the evaluation size, used in turn; <paramref name="captions"/> one per row (the prompt without the
    /// trigger).</summary>
    public static void Write(string path, EvalGridImages images, IReadOnlyList<byte[]> references,
        IReadOnlyList<string> captions)
    {
        int rows = images.Base.Count, w = images.Width, h = images.Height, f = ScaleFor(w, h);
        var layout = new GridLayout(Columns.Count, rows, w * f, h * f);
        var rgba = Enumerable.Repeat((byte)255, layout.Width * layout.Height * 4).ToArray();
        for (int r = 0; r < rows; r++)
        {
            var cells = new[]
            {
                references.Count > 0 ? references[r % references.Count] : new byte[w * h * 3],
                images.Base[r], images.LoraTrigger[r], images.LoraNoTrigger[r], images.Bleed[r],
            };
            for (int c = 0; c < cells.Length; c++)
                Paste(rgba, layout.Width, Upscale(cells[c], w, h, f), w * f, h * f, layout.CellX(c), layout.CellY(r));
        }
        using var bitmap = RgbaBitmaps.FromRgba(rgba, layout.Width, layout.Height);
        using (var canvas = new SKCanvas(bitmap))
        {
            using var font = new SKFont(LabelTypeface, 15);
            using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            for (int c = 0; c < Columns.Count; c++)
                canvas.DrawText(Columns[c], layout.CellX(c) + layout.CellWidth / 2f, HeaderHeight - 8,
                    SKTextAlign.Center, font, ink);
            using var small = new SKFont(LabelTypeface, 13);
            for (int r = 0; r < rows && r < captions.Count; r++)
                canvas.DrawText(captions[r], Pad, layout.CellY(r) - 5, SKTextAlign.Left, small, ink);
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var tmp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "." + Path.GetFileName(path) + ".tmp");
        using (var file = File.Create(tmp)) data.SaveTo(file);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Copies packed RGB of <paramref name="width"/>×<paramref name="height"/> into an RGBA canvas
    /// <paramref name="canvasWidth"/> wide at (<paramref name="left"/>, <paramref name="top"/>).</summary>
    static void Paste(byte[] rgba, int canvasWidth, byte[] rgb, int width, int height, int left, int top)
    {
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3, j = ((top + y) * canvasWidth + left + x) * 4;
                rgba[j] = rgb[i]; rgba[j + 1] = rgb[i + 1]; rgba[j + 2] = rgb[i + 2];
            }
    }

    /// <summary>The default typeface when it has glyphs, else the first TrueType font under /usr/share/fonts; null when
    /// the machine has no fonts (SkiaSharp then draws no text, the images are still written).</summary>
    public static SKTypeface? LabelTypeface => typeface.Value;
    static readonly Lazy<SKTypeface?> typeface = new(() =>
    {
        var d = SKTypeface.Default;
        if (d is not null && d.GlyphCount > 0) return d;
        foreach (var dir in new[] { "/usr/share/fonts", "/usr/local/share/fonts" }.Where(Directory.Exists))
            foreach (var f in Directory.EnumerateFiles(dir, "*.ttf", SearchOption.AllDirectories)
                .OrderBy(f => f.Contains("Sans") ? 0 : 1))
                if (SKTypeface.FromFile(f) is { GlyphCount: > 0 } t) return t;
        return null;
    });
}
