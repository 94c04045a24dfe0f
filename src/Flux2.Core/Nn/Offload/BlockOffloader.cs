using Flux2.Models.Transformer;
using Flux2.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// Layer offloading (issue 6; ai-toolkit's <c>layer_offloading</c>): a chosen share of the transformer's blocks keeps
/// its weights in pinned CPU memory and is streamed into a few preallocated GPU slots just before it runs, on a copy
/// stream that overlaps the compute of the blocks before it. <see cref="OffloadPlan"/> decides what goes where and
/// when; this class does it with the CUDA driver (<see cref="CudaDriver"/>):
/// <list type="bullet">
/// <item>Enter(i): the block's parameters are pointed at its slot's tensors (<c>Tensor.set_</c>) and the compute
/// stream waits on the slot's copy-done event (a GPU-side wait; the CPU runs on and enqueues the block).</item>
/// <item>Exit(i): an event is recorded on the compute stream (the slot's last reader is queued before it), the block's
/// parameters go back to an empty placeholder so nothing reads stale slot data, and the next blocks are prefetched:
/// each copy first waits on the event of the slot's previous user.</item></list>
/// Slots are allocated once, so libtorch's caching allocator never hands their memory to anything else while a copy
/// is in flight. Blocks are numbered as in <see cref="IBlockResidency"/>: double-stream blocks, then single-stream.
/// </summary>
public sealed class BlockOffloader : IBlockResidency, IDisposable
{
    sealed class GpuSlot(Tensor[] tensors)
    {
        public readonly Tensor[] Tensors = tensors;
        public readonly IntPtr[] Pointers = tensors.Select(TensorPointer.Of).ToArray();
        public readonly IntPtr Loaded = CudaDriver.CreateEvent(), Released = CudaDriver.CreateEvent();
    }

    readonly Flux2Transformer model;
    readonly OffloadPlan plan;
    readonly OffloadedBlock?[] blocks;          // by block index; null for resident blocks
    readonly GpuSlot[] slots;
    readonly Dictionary<ScalarType, Tensor> placeholders = new();
    readonly IntPtr copyStream;
    readonly object gate = new();
    readonly bool measureCopies;
    readonly List<(IntPtr Start, IntPtr End, long Bytes)> timedCopies = new();
    bool disposed;

    public OffloadReport Report { get; }

    BlockOffloader(Flux2Transformer model, IReadOnlyList<nn.Module> allBlocks, int[] chosen, int slotsPerLayout, bool measureCopies)
    {
        this.model = model;
        this.measureCopies = measureCopies;
        var device = model.x_embedder.weight.device;
        blocks = new OffloadedBlock?[allBlocks.Count];
        foreach (var i in chosen) blocks[i] = new OffloadedBlock(i, allBlocks[i]);
        var layouts = chosen.Select(i => blocks[i]!.Layout).Distinct().ToList();
        plan = new OffloadPlan(Enumerable.Range(0, allBlocks.Count).Select(i => blocks[i] is { } b ? layouts.IndexOf(b.Layout) : -1).ToArray(), slotsPerLayout);

        copyStream = CudaDriver.CreateCopyStream();
        using (var scope = NewDisposeScope())
        {
            foreach (var t in chosen.SelectMany(i => blocks[i]!.DTypes).Distinct())
                placeholders[t] = empty(new long[] { 0 }, t, device).DetachFromDisposeScope();
            // Weights leave the GPU before the slots are allocated, so attaching never needs more memory than before.
            foreach (var i in chosen)
            {
                blocks[i]!.CopyToPinnedHost();
                blocks[i]!.PointAt(blocks[i]!.DTypes.Select(t => placeholders[t]).ToList()); // frees the block's GPU (or CPU) storage
            }
            slots = Enumerable.Range(0, plan.SlotCount).Select(s =>
            {
                var like = blocks.First(b => b is not null && plan.PoolOf(b.Index) == plan.PoolOfSlot(s))!;
                return new GpuSlot(like.Shapes.Zip(like.DTypes, (shape, dtype) => empty(shape, dtype, device).DetachFromDisposeScope()).ToArray());
            }).ToArray();
        }
        long residentBytes = model.parameters().Select(p => (Tensor)p).Concat(model.buffers()).Sum(TensorPointer.Bytes);
        Report = new OffloadReport(allBlocks.Count, chosen, layouts.Count, slotsPerLayout,
            ResidentBytes: residentBytes,
            SlotBytes: slots.Sum(s => s.Tensors.Sum(TensorPointer.Bytes)),
            PinnedBytes: blocks.Sum(b => b?.Bytes ?? 0));
        Execute(plan.Start());
    }

    /// <summary>
    /// Offloads round(<paramref name="percent"/> × blocks) of <paramref name="model"/>'s blocks (spread, see
    /// <see cref="OffloadPlan.ChooseBlocks"/>) and installs itself as the model's <see cref="Flux2Transformer.Residency"/>.
    /// The model's other weights must already be on the CUDA device; offloaded blocks may be on the GPU (their memory
    /// is released to libtorch's allocator) or on the CPU (they never touch the GPU except through a slot).
    /// Training with offloading needs gradient checkpointing (<see cref="Flux2Transformer.GradientCheckpointing"/>).
    /// </summary>
    /// <param name="slotsPerLayout">GPU slots per block layout (double- and single-stream blocks differ): 2 lets one
    /// block compute while the next is copied; 3 adds slack when copy and compute times vary.</param>
    /// <param name="measureCopies">Time every copy with CUDA events (for <c>./flux2 bench offload</c>).</param>
    public static BlockOffloader Attach(Flux2Transformer model, double percent, int slotsPerLayout = 2, bool measureCopies = false)
    {
        var device = model.x_embedder.weight.device;
        if (device.type != DeviceType.CUDA)
            throw new InvalidOperationException($"layer offloading needs CUDA: the transformer is on {device} (set the device to cuda, or turn model.layer_offloading off)");
        if (model.Residency is not null) throw new InvalidOperationException("the transformer already has a block residency hook (layer offloading attached twice?)");
        if (slotsPerLayout is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(slotsPerLayout), slotsPerLayout, "use 2 or 3 GPU slots per block layout");
        // The copy stream and events belong to the current device's context: make it the model's device (cuda:1 in a
        // process whose current device is still 0 would otherwise order nothing between copies and compute).
        Flux2.Native.CudaRuntime.SetDevice(Math.Max(0, (int)device.index));
        CudaDriver.EnsureContext("layer offloading");
        var all = model.transformer_blocks.Cast<nn.Module>().Concat(model.single_transformer_blocks).ToList();
        var offloader = new BlockOffloader(model, all, OffloadPlan.ChooseBlocks(all.Count, percent), slotsPerLayout, measureCopies);
        model.Residency = offloader;
        CachedGpuMemory.Release(device); // the offloaded blocks' former GPU storage, if they were loaded there
        return offloader;
    }

    public void Enter(int index, bool recompute)
    {
        bool grad = is_grad_enabled();
        if (!recompute && grad && !model.GradientCheckpointing)
            throw new InvalidOperationException(
                "layer offloading with gradients needs gradient checkpointing: autograd would keep references to GPU slot tensors " +
                "that are overwritten by the next blocks' weights. Set train.gradient_checkpointing: true, or run under no_grad.");
        lock (gate)
        {
            if (disposed) throw new ObjectDisposedException(nameof(BlockOffloader));
            CudaDriver.EnsureContext("layer offloading"); // Exit of a recompute runs on autograd's device thread
            var (slot, loads) = plan.Enter(index, recompute, grad);
            Execute(loads);
            if (slot < 0) return;
            blocks[index]!.PointAt(slots[slot].Tensors);
            CudaDriver.Wait(CudaDriver.ComputeStream, slots[slot].Loaded);
        }
    }

    public void Exit(int index, bool recompute)
    {
        lock (gate)
        {
            if (disposed) throw new ObjectDisposedException(nameof(BlockOffloader));
            CudaDriver.EnsureContext("layer offloading"); // Exit of a recompute runs on autograd's device thread
            var (slot, loads) = plan.Exit(index, recompute);
            if (slot >= 0)
            {
                CudaDriver.Record(slots[slot].Released, CudaDriver.ComputeStream);
                var b = blocks[index]!;
                b.PointAt(b.DTypes.Select(t => placeholders[t]).ToList());
            }
            Execute(loads);
        }
    }

    void Execute(IReadOnlyList<SlotLoad> loads)
    {
        foreach (var (blockIndex, slotIndex) in loads)
        {
            var block = blocks[blockIndex]!;
            var slot = slots[slotIndex];
            CudaDriver.Wait(copyStream, slot.Released);
            IntPtr start = IntPtr.Zero;
            if (measureCopies) { start = CudaDriver.CreateEvent(timing: true); CudaDriver.Record(start, copyStream); }
            long bytes = 0;
            for (int j = 0; j < block.Tensors.Length; j++)
            {
                long n = TensorPointer.Bytes(slot.Tensors[j]);
                if (n > 0) CudaDriver.CopyToDeviceAsync(slot.Pointers[j], block.Host + (nint)block.Offsets[j], n, copyStream);
                bytes += n;
            }
            CudaDriver.Record(slot.Loaded, copyStream);
            if (measureCopies)
            {
                var end = CudaDriver.CreateEvent(timing: true);
                CudaDriver.Record(end, copyStream);
                timedCopies.Add((start, end, bytes));
            }
        }
    }

    /// <summary>Copies done since the last call (waits for the copy stream): count, bytes, and the copy stream's busy
    /// time. Only with <c>measureCopies</c> at attach.</summary>
    public CopyStats TakeCopyStats()
    {
        lock (gate)
        {
            CudaDriver.SynchronizeStream(copyStream);
            double ms = 0; long bytes = 0;
            foreach (var (s, e, b) in timedCopies)
            {
                ms += CudaDriver.ElapsedMilliseconds(s, e);
                bytes += b;
                CudaDriver.DestroyEvent(s); CudaDriver.DestroyEvent(e);
            }
            var stats = new CopyStats(timedCopies.Count, bytes, ms);
            timedCopies.Clear();
            return stats;
        }
    }

    /// <summary>Detaches from the model and frees the pinned memory and slots. The offloaded blocks' weights are gone
    /// from the model afterwards (their tensors are empty): dispose the model with it.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            if (ReferenceEquals(model.Residency, this)) model.Residency = null;
            CudaDriver.SynchronizeStream(copyStream);
            foreach (var b in blocks)
            {
                if (b is null) continue;
                b.PointAt(b.DTypes.Select(t => placeholders[t]).ToList());
                b.Dispose();
            }
            foreach (var (s, e, _) in timedCopies) { CudaDriver.DestroyEvent(s); CudaDriver.DestroyEvent(e); }
            timedCopies.Clear();
            foreach (var slot in slots)
            {
                foreach (var t in slot.Tensors) t.Dispose();
                CudaDriver.DestroyEvent(slot.Loaded); CudaDriver.DestroyEvent(slot.Released);
            }
            foreach (var p in placeholders.Values) p.Dispose();
            CudaDriver.DestroyStream(copyStream);
        }
    }
}

/// <summary>Host-to-device copies over some span: how many, how many bytes, and the copy stream's busy milliseconds.</summary>
public readonly record struct CopyStats(int Copies, long Bytes, double Milliseconds)
{
    public double GBPerSecond => Milliseconds > 0 ? Bytes / 1e9 / (Milliseconds / 1000) : 0;
}

/// <summary>Where the transformer's weights live once offloading is attached.</summary>
public sealed record OffloadReport(int Blocks, IReadOnlyList<int> Offloaded, int Layouts, int SlotsPerLayout, long ResidentBytes, long SlotBytes, long PinnedBytes)
{
    static double GiB(long b) => b / (double)(1L << 30);

    public override string ToString() =>
        $"layer offloading: {Offloaded.Count} of {Blocks} blocks offloaded ([{string.Join(",", Offloaded)}]); " +
        $"GPU: resident weights {GiB(ResidentBytes):F2} GiB + {Layouts}x{SlotsPerLayout} slots {GiB(SlotBytes):F2} GiB; " +
        $"offloaded {GiB(PinnedBytes):F2} GiB in pinned host memory";
}
