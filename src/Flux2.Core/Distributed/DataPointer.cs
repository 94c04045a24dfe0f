using static TorchSharp.torch;

namespace Flux2.Distributed;

/// <summary>The address of a tensor's first element, for C APIs such as NCCL (design.md: TorchSharp exposes the storage's
/// pointer; the tensor may start at an offset into it).</summary>
public static class DataPointer
{
    public static IntPtr Of(Tensor t)
    {
        if (t.dtype != ScalarType.Float32) throw new ArgumentException($"expected a float32 tensor, got {t.dtype}");
        return t.storage<float>().data_ptr() + (nint)(t.storage_offset() * sizeof(float));
    }
}
