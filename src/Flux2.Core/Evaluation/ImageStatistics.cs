using static TorchSharp.torch;

namespace Flux2.Evaluation;

/// <summary>
/// A small colour/texture descriptor of one image — what "the dataset's look" means for the evaluator:
/// <list type="bullet">
/// <item><see cref="Mean"/>, <see cref="Std"/>: per RGB channel, in 0..1 (overall tint and contrast);</item>
/// <item><see cref="Histogram"/>: a coarse joint colour histogram, <see cref="BinsPerChannel"/>³ = 64 bins summing to
/// 1 (which colours occur, independent of where);</item>
/// <item><see cref="EdgeEnergy"/>: mean absolute luminance gradient (forward differences, |dx|+|dy| over 2), in 0..1
/// (outlines, frames and stripes raise it; flat fills and blur lower it).</item></list>
/// Content-free on purpose: a style LoRA should move these whatever shapes the prompt asks for.
/// </summary>
public sealed record ImageStatistics(double[] Mean, double[] Std, double[] Histogram, double EdgeEnergy)
{
    public const int BinsPerChannel = 4;
    public const int HistogramBins = BinsPerChannel * BinsPerChannel * BinsPerChannel;

    /// <summary>Packed RGB bytes (3 a pixel, row-major), as <see cref="Data.Synthetic.RgbaBitmaps.ToRgb"/>
    /// gives.</summary>
    public static ImageStatistics FromRgb(byte[] rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"expected {width * height * 3} RGB bytes for " +
                $"{width}x{height}, got {rgb.Length}");
        var planar = new float[rgb.Length];
        int n = width * height;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) planar[c * n + i] = rgb[3 * i + c] / 255f;
        return FromPlanar(planar, width, height);
    }

    /// <summary>An image tensor [3, H, W] in 0..1 (what <see cref="Pipeline.Flux2Pipeline.Generate"/> returns per
    /// item).</summary>
    public static ImageStatistics FromTensor(Tensor image01)
    {
        if (image01.dim() != 3 || image01.shape[0] != 3)
            throw new ArgumentException(
                $"expected an image tensor [3, H, W], got [{string.Join(", ", image01.shape)}]");
        using var cpu = image01.detach().to(ScalarType.Float32).cpu().contiguous();
        return FromPlanar(cpu.data<float>().ToArray(), (int)image01.shape[2], (int)image01.shape[1]);
    }

    /// <summary>Channel-planar floats [3·H·W] in 0..1.</summary>
    public static ImageStatistics FromPlanar(float[] planar, int width, int height)
    {
        int n = width * height;
        var mean = new double[3];
        var std = new double[3];
        for (int c = 0; c < 3; c++)
        {
            double s = 0, s2 = 0;
            for (int i = 0; i < n; i++) { double v = planar[c * n + i]; s += v; s2 += v * v; }
            mean[c] = s / n;
            std[c] = Math.Sqrt(Math.Max(0, s2 / n - mean[c] * mean[c]));
        }

        var histogram = new double[HistogramBins];
        for (int i = 0; i < n; i++)
        {
            int r = Bin(planar[i]), g = Bin(planar[n + i]), b = Bin(planar[2 * n + i]);
            histogram[(r * BinsPerChannel + g) * BinsPerChannel + b] += 1.0 / n;
        }
        return new ImageStatistics(mean, std, histogram, EdgeEnergyOf(planar, width, height));
    }

    static int Bin(float v) => Math.Clamp((int)(v * BinsPerChannel), 0, BinsPerChannel - 1);

    static double EdgeEnergyOf(float[] planar, int width, int height)
    {
        int n = width * height;
        float Luma(int x, int y)
        {
            int i = y * width + x;
            return 0.299f * planar[i] + 0.587f * planar[n + i] + 0.114f * planar[2 * n + i];
        }
        double sum = 0;
        int count = 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                float l = Luma(x, y);
                double dx = x + 1 < width ? Math.Abs(Luma(x + 1, y) - l) : 0;
                double dy = y + 1 < height ? Math.Abs(Luma(x, y + 1) - l) : 0;
                sum += (dx + dy) / 2;
                count++;
            }
        return sum / count;
    }

    /// <summary>The element-wise mean of several descriptors: the look of a set of images.</summary>
    public static ImageStatistics Average(IReadOnlyList<ImageStatistics> images)
    {
        if (images.Count == 0) throw new ArgumentException("cannot average an empty set of image statistics");
        static double[] Avg(IEnumerable<double[]> xs, int len)
        {
            var a = new double[len]; int k = 0; foreach
            (var x in xs) { for (int i = 0; i < len; i++) a[i] += x[i]; k++; }
            for (int i = 0; i < len; i++) a[i] /= k;
            return a;
        }
        return new ImageStatistics(Avg(images.Select(s => s.Mean), 3), Avg(images.Select(s => s.Std), 3),
            Avg(images.Select(s => s.Histogram), HistogramBins), images.Average(s => s.EdgeEnergy));
    }
}
