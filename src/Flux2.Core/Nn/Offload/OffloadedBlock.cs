using Flux2.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// One offloaded block: its live parameter and buffer objects (found generically through <c>named_parameters()</c>
/// and <c>named_buffers()</c>, so bf16 weights, fp8/int8 weights with their <c>weight_scale</c>, norms ... all move;
/// LoRA adapters are not registered and stay on the GPU) and one page-locked host buffer holding all their bytes.
/// </summary>
sealed class OffloadedBlock : IDisposable
{
    const long Align = 256; // keeps every tensor's host copy on a DMA-friendly boundary

    public int Index { get; }
    public Tensor[] Tensors { get; }
    public string[] Names { get; }
    public long[] Offsets { get; }
    public long Bytes { get; }
    public long[][] Shapes { get; }
    public ScalarType[] DTypes { get; }
    public IntPtr Host { get; private set; }
    /// <summary>Shapes and dtypes in order: blocks with the same layout share GPU slots.</summary>
    public string Layout { get; }

    public OffloadedBlock(int index, nn.Module block)
    {
        Index = index;
        var named = block.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(block.named_buffers()).ToArray();
        Names = named.Select(n => n.Item1).ToArray();
        Tensors = named.Select(n => n.Item2).ToArray();
        Shapes = Tensors.Select(t => t.shape).ToArray();
        DTypes = Tensors.Select(t => t.dtype).ToArray();
        foreach (var (name, t) in named)
        {
            if (t.requires_grad) throw new InvalidOperationException($"block {index}: '{name}' requires grad; layer offloading streams frozen base weights only (LoRA adapters stay on the GPU)");
            if (!t.is_contiguous()) throw new InvalidOperationException($"block {index}: '{name}' is not contiguous");
        }
        Offsets = new long[Tensors.Length];
        long offset = 0;
        for (int i = 0; i < Tensors.Length; i++)
        {
            Offsets[i] = offset;
            offset += (TensorPointer.Bytes(Tensors[i]) + Align - 1) / Align * Align;
        }
        Bytes = offset;
        Layout = string.Join(";", named.Select(n => $"{n.Item1}:{n.Item2.dtype}[{string.Join(",", n.Item2.shape)}]"));
    }

    /// <summary>Copies every tensor into a new pinned host buffer, wherever the tensor lives (GPU or CPU).</summary>
    public unsafe void CopyToPinnedHost()
    {
        Host = CudaDriver.AllocPinned(Math.Max(Bytes, 1));
        for (int i = 0; i < Tensors.Length; i++)
        {
            var t = Tensors[i];
            long n = TensorPointer.Bytes(t);
            if (n == 0) continue;
            var dst = Host + (nint)Offsets[i];
            if (t.device_type == DeviceType.CUDA) CudaDriver.CopyToHost(dst, TensorPointer.Of(t), n);
            else if (t.device_type == DeviceType.CPU) Buffer.MemoryCopy((void*)TensorPointer.Of(t), (void*)dst, n, n);
            else throw new InvalidOperationException($"block {Index}: '{Names[i]}' is on {t.device}; expected CPU or CUDA");
        }
    }

    /// <summary>Points every tensor of the block at <paramref name="sources"/> (same order), sharing their storage.</summary>
    public void PointAt(IReadOnlyList<Tensor> sources)
    {
        using var _ = no_grad();
        for (int i = 0; i < Tensors.Length; i++)
        {
            var r = Tensors[i].set_(sources[i]);
            if (!ReferenceEquals(r, Tensors[i])) r.Dispose();
        }
    }

    public void Dispose()
    {
        if (Host != IntPtr.Zero) CudaDriver.FreePinned(Host);
        Host = IntPtr.Zero;
    }
}
