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

    readonly nn.Module module;
    public int Index { get; }
    /// <summary>The block's tensor objects; their storage is swapped (<see cref="PointAt"/>), the objects
    /// stay.</summary>
    public Tensor[] Tensors { get; private set; }
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
        module = block;
        var named = Named();
        Names = named.Select(n => n.Name).ToArray();
        Tensors = named.Select(n => n.Tensor).ToArray();
        Shapes = Tensors.Select(t => t.shape).ToArray();
        DTypes = Tensors.Select(t => t.dtype).ToArray();
        foreach (var (name, t) in named)
        {
            if (t.requires_grad)
                throw new InvalidOperationException($"block {index}: '{name}' requires grad; layer offloading " +
                                                    "streams frozen base weights only (LoRA adapters stay on the GPU)");
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
        Layout = string.Join(";", named.Select(n => $"{n.Name}:{n.Tensor.dtype}[{string.Join(",", n.Tensor.shape)}]"));
    }

    (string Name, Tensor Tensor)[] Named() =>
        module.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(module.named_buffers()).ToArray();

    /// <summary>True when the block was built in CPU memory (a model built for layer offloading): it reaches the
    /// device only through a GPU slot and must be filled there (<see cref="BlockOffloader.Fill"/>) before it
    /// runs.</summary>
    public bool BuiltOnHost => Tensors.All(t => t.device_type == DeviceType.CPU);

    /// <summary>
    /// Copies every tensor into a new pinned host buffer, wherever the block lives (GPU or CPU), then points the
    /// tensors at <paramref name="placeholders"/> (empty tensors on <paramref name="device"/>, one per dtype), which
    /// frees the block's own storage. A block in CPU memory is first moved to the device as empty tensors:
    /// <c>Tensor.set_</c> cannot move a tensor between devices, and its slot tensors will be on the device.
    /// </summary>
    public unsafe void MoveToPinnedHost(Device device, IReadOnlyDictionary<ScalarType, Tensor> placeholders)
    {
        var onDevice = Tensors.Select(t => t.device_type == device.type).Distinct().ToList();
        if (onDevice.Count > 1)
            throw new InvalidOperationException(
                $"block {Index}: its tensors are partly on {device} and partly elsewhere");
        Host = CudaDriver.AllocPinned(Math.Max(Bytes, 1));
        for (int i = 0; i < Tensors.Length; i++)
        {
            var t = Tensors[i];
            long n = TensorPointer.Bytes(t);
            if (n == 0) continue;
            var dst = Host + (nint)Offsets[i];
            if (t.device_type == DeviceType.CUDA) CudaDriver.CopyToHost(dst, TensorPointer.Of(t), n);
            else if (t.device_type == DeviceType.CPU) Buffer.MemoryCopy((void*)TensorPointer.Of(t), (void*)dst, n, n);
            else
                throw new InvalidOperationException(
                    $"block {Index}: '{Names[i]}' is on {t.device}; expected CPU or CUDA");
        }
        if (Tensors[0].device_type != device.type)
        {
            using (var _ = NewDisposeScope())
                PointAt(DTypes.Select(t => empty(new long[] { 0 }, t, CPU)).ToList());
            module.to(device);   // new (empty) parameter objects on the device, re-pointed by the module's fields
            Tensors = Named().Select(n => n.Tensor).ToArray();
            foreach (var t in Tensors) t.DetachFromDisposeScope();   // the module's, not a caller's scope's
        }
        PointAt(DTypes.Select(t => placeholders[t]).ToList());
    }

    /// <summary>Copies <paramref name="slot"/> (the block's layout, on the GPU) into the pinned host buffer:
    /// synchronous, ordered after the work already queued on the compute stream.</summary>
    public void CopyFromDevice(IReadOnlyList<Tensor> slot)
    {
        for (int i = 0; i < Tensors.Length; i++)
        {
            long n = TensorPointer.Bytes(slot[i]);
            if (n > 0) CudaDriver.CopyToHost(Host + (nint)Offsets[i], TensorPointer.Of(slot[i]), n);
        }
    }

    /// <summary>Points every tensor of the block at <paramref name="sources"/> (same order), sharing their
    /// storage.</summary>
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
