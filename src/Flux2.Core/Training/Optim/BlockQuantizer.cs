using static TorchSharp.torch;

namespace Flux2.Training.Optim;

/// <summary>
/// Block-wise 8-bit quantization of a flat fp32 tensor: consecutive runs of <see cref="BlockSize"/> values share one
/// fp32 scale (their absolute maximum), each value is stored as the byte of the nearest code of a
/// <see cref="QuantizationMap"/> after dividing by the scale. Small blocks keep one outlier from flattening the
/// precision of the whole tensor. A tail shorter than a block gets its own scale, so nothing is padded: a tensor of
/// n values costs n bytes + 4·ceil(n / BlockSize) bytes. All tensor ops (CPU or CUDA), no per-element loops.
/// </summary>
public sealed class BlockQuantizer(QuantizationMap map, int blockSize = 256)
{
    public QuantizationMap Map { get; } = map;
    public int BlockSize { get; } = blockSize > 0 ? blockSize
        : throw new ArgumentOutOfRangeException(nameof(blockSize));

    public long BlockCount(long numel) => (numel + BlockSize - 1) / BlockSize;

    /// <summary>Quantizes <paramref name="flat"/> (1-D, fp32) into <paramref name="codes"/> (uint8, same length) and
    /// <paramref name="absmax"/> (fp32, one per block), in place.</summary>
    public void Quantize(Tensor flat, Tensor codes, Tensor absmax)
    {
        using var scope = NewDisposeScope();
        long n = flat.numel(), full = n / BlockSize * BlockSize;
        if (full > 0) QuantizeBlocks(flat[..(int)full].view(-1, BlockSize), codes[..(int)full].view(-1, BlockSize),
            absmax[..(int)(full / BlockSize)]);
        if (full < n) QuantizeBlocks(flat[(int)full..].view(1, -1), codes[(int)full..].view(1, -1),
            absmax[(int)(full / BlockSize)..]);
    }

    /// <summary>The fp32 values that <paramref name="codes"/> and <paramref name="absmax"/> stand for (1-D).</summary>
    public Tensor Dequantize(Tensor codes, Tensor absmax)
    {
        long n = codes.numel(), full = n / BlockSize * BlockSize;
        var (values, _) = Map.On(codes.device);
        var decoded = values.index_select(0, codes.to(ScalarType.Int64));
        var scales = full == n ? absmax.repeat_interleave(BlockSize)
            : cat(new[] { absmax[..(int)(full / BlockSize)].repeat_interleave(BlockSize),
                absmax[^1..].expand(n - full) });
        return decoded * scales;
    }

    void QuantizeBlocks(Tensor blocks, Tensor codes, Tensor absmax)
    {
        var (_, midpoints) = Map.On(blocks.device);
        var scale = blocks.abs().amax(new long[] { 1 }, keepdim: true);
        // An all-zero block keeps scale 0; dividing by 1 there leaves zeros, which code 0 stands for exactly.
        var normalized = blocks / scale.where(scale > 0, 1f);
        codes.copy_(bucketize(normalized, midpoints).to(ScalarType.Byte));
        absmax.copy_(scale.view(-1));
    }
}
