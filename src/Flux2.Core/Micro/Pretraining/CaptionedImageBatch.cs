using static TorchSharp.torch;

namespace Flux2.Micro.Pretraining;

/// <summary>A source of training examples by index: image [3, H, W] in −1..1 as floats, and its caption.</summary>
public delegate (float[] pixels, string caption) CaptionedImageSource(long index);

/// <summary>Renders a batch of examples on CPU threads into one [B, 3, H, W] tensor on the device.</summary>
public static class CaptionedImageBatch
{
    public static (Tensor images, string[] captions) Make(CaptionedImageSource source, IReadOnlyList<long> indices,
        int size, Device device)
    {
        int n = indices.Count, per = 3 * size * size;
        var pixels = new float[n * per];
        var captions = new string[n];
        Parallel.For(0, n, i =>
        {
            var (p, c) = source(indices[i]);
            if (p.Length != per)
                throw new InvalidDataException($"example {indices[i]}: {p.Length} values, expected 3x{size}x{size}");
            Array.Copy(p, 0, pixels, i * per, per);
            captions[i] = c;
        });
        using var cpu = tensor(pixels, new long[] { n, 3, size, size });
        return (cpu.to(device), captions);
    }
}
