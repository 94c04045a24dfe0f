using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>Walks a contiguous CPU tensor's raw bytes in chunks. TorchSharp exposes a tensor's memory only as one
/// <c>Span&lt;byte&gt;</c>, which cannot exceed 2 GiB; FLUX.2 tensors in F32 come close (single-block linear1 is
/// 55296 x 6144 = 1.36 GB), so every copy between files and tensors goes through bounded slices.</summary>
static class TensorBytes
{
    const long ChunkBytes = 64L << 20;

    public delegate void ChunkAction(Span<byte> chunk, long byteOffset);

    public static void ForEachChunk(Tensor contiguousCpu, ChunkAction action)
    {
        using var flat = contiguousCpu.reshape(-1);
        long n = flat.shape[0], elementSize = contiguousCpu.ElementSize;
        long perChunk = Math.Max(1, ChunkBytes / elementSize);
        for (long i = 0; i < n; i += perChunk)
        {
            using var part = flat.narrow(0, i, Math.Min(perChunk, n - i));
            action(part.bytes, i * elementSize);
        }
    }
}
