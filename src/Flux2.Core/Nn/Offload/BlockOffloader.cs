using Flux2.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// Layer offloading (ai-toolkit's <c>layer_offloading</c>): a chosen share of a model's blocks keeps
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
/// is in flight. Blocks are numbered in execution order, as in <see cref="IBlockResidency"/>; the offloader hooks into
/// the model's <see cref="BlockRunner"/> as its <see cref="BlockRunner.Residency"/>.
/// </summary>
public sealed class BlockOffloader : IBlockResidency, IOffloadedModules, IDisposable
{
    sealed class GpuSlot(Tensor[] tensors)
    {
        public readonly Tensor[] Tensors = tensors;
        public readonly IntPtr[] Pointers = tensors.Select(TensorPointer.Of).ToArray();
        public readonly IntPtr Loaded = CudaDriver.CreateEvent(), Released = CudaDriver.CreateEvent();
    }

    readonly BlockRunner runner;
    readonly OffloadPlan plan;
    readonly OffloadedBlock?[] blocks;          // by block index; null for resident blocks
    readonly Dictionary<nn.Module, OffloadedBlock> byModule = new(ReferenceEqualityComparer.Instance);
    readonly HashSet<int> unfilled = new();     // built in CPU memory, not yet filled through a slot
    readonly GpuSlot[] slots = Array.Empty<GpuSlot>();
    readonly Dictionary<ScalarType, Tensor> placeholders = new();
    readonly IntPtr copyStream;
    readonly object gate = new();
    readonly bool measureCopies;
    readonly List<(IntPtr Start, IntPtr End, long Bytes)> timedCopies = new();
    bool started, disposed;

    public OffloadReport Report { get; }

    BlockOffloader(BlockRunner runner, nn.Module model, IReadOnlyList<nn.Module> allBlocks, Device device, int[] chosen,
                   int slotsPerLayout, bool measureCopies)
    {
        this.runner = runner;
        this.measureCopies = measureCopies;
        blocks = new OffloadedBlock?[allBlocks.Count];
        copyStream = CudaDriver.CreateCopyStream();
        try
        {
            foreach (var i in chosen) blocks[i] = new OffloadedBlock(i, allBlocks[i]);
            var layouts = chosen.Select(i => blocks[i]!.Layout).Distinct().ToList();
            var pools = Enumerable.Range(0, allBlocks.Count)
                .Select(i => blocks[i] is { } b ? layouts.IndexOf(b.Layout) : -1).ToArray();
            plan = new OffloadPlan(pools, slotsPerLayout);
            using (var scope = NewDisposeScope())
                foreach (var t in chosen.SelectMany(i => blocks[i]!.DTypes).Distinct())
                    placeholders[t] = empty(new long[] { 0 }, t, device).DetachFromDisposeScope();
            // Weights leave the GPU before the slots are allocated, so attaching never needs more memory than before.
            foreach (var i in chosen)
            {
                var b = blocks[i]!;
                if (b.BuiltOnHost) unfilled.Add(i);
                b.MoveToPinnedHost(device, placeholders); // frees the block's GPU (or CPU) storage
                byModule[allBlocks[i]] = b;
            }
            using (var scope = NewDisposeScope())
            {
                slots = Enumerable.Range(0, plan.SlotCount).Select(s =>
                {
                    var like = blocks.First(b => b is not null && plan.PoolOf(b.Index) == plan.PoolOfSlot(s))!;
                    return new GpuSlot(like.Shapes.Zip(like.DTypes,
                        (shape, dtype) => empty(shape, dtype, device).DetachFromDisposeScope()).ToArray());
                }).ToArray();
            }
            long residentBytes = model.parameters().Select(p => (Tensor)p).Concat(model.buffers())
                                      .Sum(TensorPointer.Bytes);
            Report = new OffloadReport(allBlocks.Count, chosen, layouts.Count, slotsPerLayout,
                ResidentBytes: residentBytes,
                SlotBytes: slots.Sum(s => s.Tensors.Sum(TensorPointer.Bytes)),
                PinnedBytes: blocks.Sum(b => b?.Bytes ?? 0));
        }
        catch { Dispose(); throw; }
        StartWhenFilled();
    }

    /// <summary>
    /// Offloads round(<paramref name="percent"/> × blocks) of <paramref name="blocks"/> (spread, see
    /// <see cref="OffloadPlan.ChooseBlocks"/>), <paramref name="model"/>'s blocks in execution order, and installs
    /// itself as <paramref name="runner"/>'s <see cref="BlockRunner.Residency"/>. Everything else of the model must
    /// already be on the CUDA <paramref name="device"/>. An offloaded block on the GPU is copied to pinned memory and
    /// its GPU memory released to the driver; one built in CPU memory keeps its constructor's values and must then be
    /// filled on the GPU through <see cref="Fill"/> before the first forward. Training with offloading needs gradient
    /// checkpointing (<see cref="BlockRunner.Checkpointing"/>).
    /// </summary>
    /// <param name="slotsPerLayout">GPU slots per block layout (double- and single-stream blocks differ): 2 lets one
    /// block compute while the next is copied; 3 adds slack when copy and compute times vary.</param>
    /// <param name="measureCopies">Time every copy with CUDA events (for <c>./flux2 bench offload</c>).</param>
    public static BlockOffloader Attach(BlockRunner runner, nn.Module model, IReadOnlyList<nn.Module> blocks,
                                        Device device, double percent, int slotsPerLayout = 2,
                                        bool measureCopies = false)
    {
        RequireCuda(device);
        if (runner.Residency is not null)
            throw new InvalidOperationException(
                "the model already has a block residency hook (layer offloading attached twice?)");
        if (slotsPerLayout is < 1 or > 8)
            throw new ArgumentOutOfRangeException(nameof(slotsPerLayout), slotsPerLayout,
                                                  "use 2 or 3 GPU slots per block layout");
        // The copy stream and events belong to the current device's context: make it the model's device (cuda:1 in a
        // process whose current device is still 0 would otherwise order nothing between copies and compute).
        CudaRuntime.SetDevice(Math.Max(0, (int)device.index));
        CudaDriver.EnsureContext("layer offloading");
        var chosen = OffloadPlan.ChooseBlocks(blocks.Count, percent);
        RequireResidentOn(device, model, blocks, chosen);
        var offloader = new BlockOffloader(runner, model, blocks, device, chosen, slotsPerLayout, measureCopies);
        runner.Residency = offloader;
        CachedGpuMemory.Release(device); // the offloaded blocks' former GPU storage, if they were loaded there
        return offloader;
    }

    /// <summary>Throws unless <paramref name="device"/> is a CUDA device (the one place that says so, also for loaders
    /// that check before reading any weights).</summary>
    public static void RequireCuda(Device device)
    {
        if (device.type != DeviceType.CUDA)
            throw new InvalidOperationException($"layer offloading needs CUDA: the transformer is on {device} " +
                                                "(set the device to cuda, or turn model.layer_offloading off)");
    }

    /// <summary>Everything but the offloaded blocks must be on the device: a block left in CPU memory (built for
    /// another percentage?) would fail deep inside the first forward.</summary>
    static void RequireResidentOn(Device device, nn.Module model, IReadOnlyList<nn.Module> blocks, int[] chosen)
    {
        var chosenBlocks = chosen.Select(i => blocks[i]).ToHashSet(ReferenceEqualityComparer.Instance);
        var offloaded = model.named_modules().Where(m => chosenBlocks.Contains(m.module))
                             .Select(m => m.name + ".").ToList();
        var elsewhere = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(model.named_buffers())
            .Where(p => !offloaded.Any(prefix => p.Item1.StartsWith(prefix, StringComparison.Ordinal)))
            .Where(p => p.Item2.device_type != device.type || p.Item2.device_index != device.index)
            .Select(p => p.Item1).ToList();
        if (elsewhere.Count > 0)
            throw new InvalidOperationException(
                $"layer offloading: {elsewhere.Count} weights that stay resident are not on {device} " +
                $"(e.g. '{elsewhere[0]}'); only the offloaded blocks [{string.Join(",", chosen)}] may be " +
                "built elsewhere (the same offloaded percentage at build and attach?)");
    }

    /// <summary>
    /// Fills offloaded block <paramref name="module"/> on the GPU: its current bytes are copied into a free slot of its
    /// layout, its tensors pointed at the slot (as <see cref="Enter"/> does), <paramref name="fill"/> runs (kernels on
    /// the compute stream: random init, a checkpoint's tensors copied and quantized), and the slot is copied back into
    /// the block's pinned buffer. Only before the first forward; once every block built in CPU memory has been filled,
    /// the first blocks are prefetched.
    /// </summary>
    public void Fill(nn.Module module, Action fill)
    {
        lock (gate)
        {
            if (disposed) throw new ObjectDisposedException(nameof(BlockOffloader));
            if (!byModule.TryGetValue(module, out var block))
                throw new ArgumentException("this module is not one of the offloaded blocks", nameof(module));
            if (started)
                throw new InvalidOperationException($"block {block.Index}: offloaded blocks are filled before " +
                    "streaming starts (it starts once every block built in CPU memory is filled), not after: " +
                    "the slots then hold prefetched blocks");
            CudaDriver.EnsureContext("layer offloading");
            int slotIndex = Enumerable.Range(0, slots.Length)
                                      .First(s => plan.PoolOfSlot(s) == plan.PoolOf(block.Index));
            var slot = slots[slotIndex];
            Execute([new SlotLoad(block.Index, slotIndex)]);
            block.PointAt(slot.Tensors);
            CudaDriver.Wait(CudaDriver.ComputeStream, slot.Loaded);
            try
            {
                fill();
                block.CopyFromDevice(slot.Tensors);
            }
            finally
            {
                CudaDriver.Record(slot.Released, CudaDriver.ComputeStream);
                block.PointAt(block.DTypes.Select(t => placeholders[t]).ToList());
            }
            unfilled.Remove(block.Index);
        }
        StartWhenFilled();
    }

    public bool IsOffloaded(nn.Module module) => byModule.ContainsKey(module);

    public IReadOnlyDictionary<string, long[]> ShapesOf(nn.Module module) =>
        byModule.TryGetValue(module, out var b) ? b.Names.Zip(b.Shapes).ToDictionary(x => x.First, x => x.Second)
            : throw new ArgumentException("this module is not one of the offloaded blocks", nameof(module));

    /// <summary>Parameters of <paramref name="model"/>, this offloader's blocks included: between uses their tensors
    /// are empty placeholders, so their sizes come from the shapes recorded at attach.</summary>
    public long ParameterCount(nn.Module model)
    {
        long count = model.parameters().Sum(p => p.numel());
        foreach (var block in model.modules().Where(IsOffloaded))
        {
            var shapes = ShapesOf(block);
            count += block.named_parameters().Sum(p => shapes[p.name].Aggregate(1L, (a, b) => a * b));
        }
        return count;
    }

    /// <summary>Throws unless every offloaded block built in CPU memory has been filled through <see cref="Fill"/>.
    /// </summary>
    public void RequireFilled()
    {
        if (unfilled.Count > 0)
            throw new InvalidOperationException($"layer offloading: blocks [{string.Join(",", unfilled.Order())}] " +
                "were built in CPU memory but never filled (fill them through the offloader: " +
                "RandomInit.Apply(model, seed, offloader) or ModuleLoader.Load(model, source, offloaded: offloader))");
    }

    /// <summary>The first forward's blocks are copied ahead, once every offloaded block holds its weights.</summary>
    void StartWhenFilled()
    {
        lock (gate)
        {
            if (started || disposed || unfilled.Count > 0) return;
            started = true;
            Execute(plan.Start());
        }
    }

    public void Enter(int index, bool recompute)
    {
        bool grad = is_grad_enabled();
        if (!recompute && grad && !runner.Checkpointing)
            throw new InvalidOperationException(
                "layer offloading with gradients needs gradient checkpointing: autograd would keep references to " +
                "GPU slot tensors that are overwritten by the next blocks' weights. " +
                "Set train.gradient_checkpointing: true, or run under no_grad.");
        lock (gate)
        {
            if (disposed) throw new ObjectDisposedException(nameof(BlockOffloader));
            RequireFilled();
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
                if (n > 0)
                    CudaDriver.CopyToDeviceAsync(slot.Pointers[j], block.Host + (nint)block.Offsets[j], n, copyStream);
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

    /// <summary>Detaches from the runner and frees the pinned memory and slots. The offloaded blocks' weights are gone
    /// from the model afterwards (their tensors are empty): dispose the model with it.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            if (ReferenceEquals(runner.Residency, this)) runner.Residency = null;
            CudaDriver.SynchronizeStream(copyStream);
            foreach (var b in blocks)
            {
                if (b is null) continue;
                // Off any slot before the slots go (a block whose attach failed half-way may still be in CPU memory).
                if (b.Tensors.All(t => t.device_type == DeviceType.CUDA) && b.DTypes.All(placeholders.ContainsKey))
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

/// <summary>Host-to-device copies over some span: how many, how many bytes, and the copy stream's busy
/// milliseconds.</summary>
public readonly record struct CopyStats(int Copies, long Bytes, double Milliseconds)
{
    public double GBPerSecond => Milliseconds > 0 ? Bytes / 1e9 / (Milliseconds / 1000) : 0;
}

/// <summary>Where the transformer's weights live once offloading is attached.</summary>
public sealed record OffloadReport(int Blocks, IReadOnlyList<int> Offloaded, int Layouts, int SlotsPerLayout,
                                   long ResidentBytes, long SlotBytes, long PinnedBytes)
{
    static double GiB(long b) => b / (double)(1L << 30);

    public override string ToString() =>
        $"layer offloading: {Offloaded.Count} of {Blocks} blocks offloaded ([{string.Join(",", Offloaded)}]); " +
        $"GPU: resident weights {GiB(ResidentBytes):F2} GiB + " +
        $"{Layouts}x{SlotsPerLayout} slots {GiB(SlotBytes):F2} GiB; " +
        $"offloaded {GiB(PinnedBytes):F2} GiB in pinned host memory";
}
