using Flux2.Data.Synthetic;
using SkiaSharp;

namespace Flux2.Evaluation;

/// <summary>The reference look of a LoRA dataset: every image resized to the evaluation resolution (edge energy
/// depends on scale, so dataset and generated images must be compared at the same size) and described.</summary>
public static class DatasetLook
{
    public static IReadOnlyList<ImageStatistics> Load(string datasetFolder, int width, int height) =>
        EvalPrompts.DatasetImages(datasetFolder).Select(f => Describe(f, width, height)).ToList();

    public static ImageStatistics Describe(string imagePath, int width, int height) =>
        ImageStatistics.FromRgb(Resized(imagePath, width, height), width, height);

    /// <summary>The image as packed RGB at <paramref name="width"/>×<paramref name="height"/> (Mitchell
    /// resampling).</summary>
    public static byte[] Resized(string imagePath, int width, int height)
    {
        using var decoded = SKBitmap.Decode(imagePath)
            ?? throw new InvalidDataException($"{imagePath}: not a readable image");
        using var rgba = decoded.Copy(SKColorType.Rgba8888)
            ?? throw new InvalidDataException($"{imagePath}: cannot convert to RGBA");
        using var sized = rgba.Width == width && rgba.Height == height ? rgba.Copy()
            : rgba.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque),
                new SKSamplingOptions(SKCubicResampler.Mitchell));
        return RgbaBitmaps.ToRgb(sized);
    }
}
