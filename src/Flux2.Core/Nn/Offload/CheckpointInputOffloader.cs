using Flux2.Native;
using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// Gradient checkpointing keeps every block's inputs on the GPU until the backward pass reaches the block: for
/// FLUX.2-dev at 1024² that is 56 blocks x 4608 tokens x 6144 x bf16 ≈ 3 GiB, the largest training cost after the
/// weights and the LoRA state (docs/performance.md). This class parks those inputs in pinned host memory during the
/// forward pass and brings each back one block ahead of its recompute (musubi-tuner's
/// <c>--gradient_checkpointing_cpu_offload</c>, OneTrainer's CPU-offloaded checkpointing). Bytes are moved, never
/// converted, so training is bit-identical with and without it.
/// <para>Ordering, all on the GPU (the CPU never waits): the device-to-host copy of block k's input runs on a copy
/// stream after an event marks the input as produced, overlapping block k's compute; the input's GPU memory is let go
/// only when the next block is offloaded, after the compute stream has been told to wait for that copy — so the
/// caching allocator can hand the memory out again only to work that runs after the copy. In the backward pass,
/// restoring block k's inputs starts the copy of block k-1's inputs (the next to be recomputed) into fresh GPU
/// memory.</para>
/// <para>On the CPU (tests: the bookkeeping of <see cref="GradientCheckpoint"/> runs in CI) the "host copy" is a plain
/// copy of the tensor and nothing is saved.</para>
/// </summary>
public sealed class CheckpointInputOffloader : IDisposable
{
    /// <summary>Inputs smaller than this stay on the GPU (modulation vectors, RoPE tables: KBs, not worth a
    /// copy).</summary>
    public const long MinBytes = 1L << 20;

    readonly IntPtr copyStream;
    readonly bool onGpu;
    readonly long minBytes;
    readonly object gate = new();
    readonly PinnedBufferPool buffers;
    readonly Stack<IntPtr> freeEvents = new();
    readonly List<IntPtr> events = new();
    readonly List<Stash> pending = new();   // offloaded and not yet restored, in forward order
    bool disposed;

    /// <summary>Stashes waiting for their block's recompute (one per checkpointed block run since the last
    /// backward).</summary>
    public int Pending { get { lock (gate) return pending.Count; } }

    /// <summary>Pinned host memory held: about the largest set of inputs one step offloads (<see
    /// cref="PinnedBufferPool"/>).</summary>
    public long PinnedBytes => buffers.Bytes;

    /// <param name="device">the model's device: CUDA, or the CPU for tests.</param>
    /// <param name="minBytes">smallest input moved (<see cref="MinBytes"/>; tests lower it for tiny models).</param>
    public CheckpointInputOffloader(Device device, long minBytes = MinBytes)
    {
        onGpu = device.type == TorchSharp.DeviceType.CUDA;
        this.minBytes = minBytes;
        // Free buffers may still be read or written by copies queued on the copy stream: those finish before any is
        // freed.
        buffers = new PinnedBufferPool(CudaDriver.AllocPinned, CudaDriver.FreePinned,
                                       () => CudaDriver.SynchronizeStream(copyStream));
        if (!onGpu) return;
        CudaRuntime.SetDevice(Math.Max(0, (int)device.index));
        CudaDriver.EnsureContext("checkpoint input offloading");
        copyStream = CudaDriver.CreateCopyStream();
    }

    /// <summary>Whether <paramref name="t"/> is worth moving: a contiguous tensor on this offloader's kind of device of
    /// at least the minimum size.</summary>
    public bool Worth(Tensor t) =>
        (t.device.type == TorchSharp.DeviceType.CUDA) == onGpu && t.is_contiguous()
        && TensorPointer.Bytes(t) >= minBytes;

    /// <summary>One block application's offloaded inputs. Disposing it without <see cref="Restore"/> (a forward whose
    /// backward never came) gives its memory back.</summary>
    public sealed class Stash : IDisposable
    {
        internal readonly CheckpointInputOffloader Owner;
        internal readonly Entry[] Entries;
        internal bool Done;
        internal Stash(CheckpointInputOffloader owner, Entry[] entries) { Owner = owner; Entries = entries; }
        public void Dispose() => Owner.Reclaim(this);
    }

    internal sealed class Entry
    {
        public required long[] Shape;
        public required ScalarType DType;
        public required Device Device;
        public required long Bytes;
        public IntPtr Host;                     // pinned buffer (GPU mode) of Capacity >= Bytes
        public long Capacity;
        public IntPtr Copied;                   // recorded on the copy stream after the device-to-host copy
        public Tensor? Source;                  // the input itself, held until the copy is known to be ordered
        public Tensor? Prefetched;              // the input back on the GPU, valid once Loaded completes
        public IntPtr Loaded;
    }

    /// <summary>Starts copying <paramref name="inputs"/> (each <see cref="Worth"/> it) to pinned memory; called in a
    /// checkpointed block's forward before the block enqueues its kernels. Earlier blocks' inputs are let go
    /// here.</summary>
    public Stash Offload(IReadOnlyList<Tensor> inputs)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            foreach (var t in inputs)
                if (!Worth(t))
                    throw new ArgumentException($"checkpoint input offloading: a [{string.Join(", ", t.shape)}] " +
                        $"{t.dtype} tensor on {t.device} is not a contiguous {(onGpu ? "CUDA" : "CPU")} tensor " +
                        $"of at least {minBytes} bytes");
            if (!onGpu)
            {
                var copies = inputs.Select(t => new Entry
                {
                    Shape = t.shape,
                    DType = t.dtype,
                    Device = t.device,
                    Bytes = TensorPointer.Bytes(t),
                    Prefetched = t.detach().clone().DetachFromDisposeScope(),
                }).ToArray();
                pending.Add(new Stash(this, copies));
                return pending[^1];
            }
            foreach (var s in pending) foreach (var e in s.Entries) ReleaseSource(e);
            var produced = TakeEvent();
            CudaDriver.Record(produced, CudaDriver.ComputeStream);
            CudaDriver.Wait(copyStream, produced);
            GiveEvent(produced); // a recorded event may be recorded again: the wait above captured this record
            var entries = inputs.Select(t =>
            {
                long bytes = TensorPointer.Bytes(t);
                var (host, capacity) = buffers.Take(bytes);
                var e = new Entry
                {
                    Shape = t.shape,
                    DType = t.dtype,
                    Device = t.device,
                    Bytes = bytes,
                    Host = host,
                    Capacity = capacity,
                    Copied = TakeEvent(),
                };
                CudaDriver.CopyToHostAsync(e.Host, TensorPointer.Of(t), bytes, copyStream);
                CudaDriver.Record(e.Copied, copyStream);
                e.Source = t.detach().DetachFromDisposeScope(); // our own handle: the storage lives until ReleaseSource
                return e;
            }).ToArray();
            var stash = new Stash(this, entries);
            pending.Add(stash);
            return stash;
        }
    }

    /// <summary>The stashed inputs back on the GPU, in the order given to <see cref="Offload"/> (new tensors, owned by
    /// the caller); the compute stream waits for them. Starts bringing back the previous block's inputs. Runs on
    /// libtorch's autograd thread in the backward pass.</summary>
    public Tensor[] Restore(Stash stash)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (stash.Done)
                throw new InvalidOperationException("checkpoint input offloading: a block's inputs were asked for " +
                    "twice (a second backward through the same graph, retain_graph); " +
                    "turn train.gradient_checkpointing_cpu_offload off for that");
            if (!onGpu)
            {
                var copies = stash.Entries.Select(e => e.Prefetched!).ToArray();
                foreach (var e in stash.Entries) e.Prefetched = null;
                Reclaim(stash);
                return copies;
            }
            CudaDriver.EnsureContext("checkpoint input offloading");
            int at = pending.IndexOf(stash);
            var result = stash.Entries.Select(e =>
            {
                if (e.Source is { } source)
                {
                    // Still on the GPU (the last blocks of the forward): use it, once the copy reading it is ordered.
                    CudaDriver.Wait(CudaDriver.ComputeStream, e.Copied);
                    e.Source = null;
                    return source;
                }
                if (e.Prefetched is null) Load(e);
                CudaDriver.Wait(CudaDriver.ComputeStream, e.Loaded);
                var t = e.Prefetched!;
                e.Prefetched = null;
                return t;
            }).ToArray();
            Reclaim(stash);
            if (at > 0)
                foreach (var e in pending[at - 1].Entries)
                    if (e.Source is null && e.Prefetched is null) Load(e);
            return result;
        }
    }

    /// <summary>Host-to-device copy into new GPU memory; the copy waits until the memory's earlier users are
    /// done.</summary>
    void Load(Entry e)
    {
        var t = empty(e.Shape, e.DType, e.Device).DetachFromDisposeScope();
        var ready = TakeEvent();
        CudaDriver.Record(ready, CudaDriver.ComputeStream);
        CudaDriver.Wait(copyStream, ready);
        GiveEvent(ready);
        CudaDriver.CopyToDeviceAsync(TensorPointer.Of(t), e.Host, e.Bytes, copyStream);
        e.Loaded = TakeEvent();
        CudaDriver.Record(e.Loaded, copyStream);
        e.Prefetched = t;
    }

    /// <summary>Lets go of an input's GPU memory: later compute-stream work (which may reuse it) waits for the
    /// copy.</summary>
    static void ReleaseSource(Entry e)
    {
        if (e.Source is null) return;
        CudaDriver.Wait(CudaDriver.ComputeStream, e.Copied);
        e.Source.Dispose();
        e.Source = null;
    }

    /// <summary>Gives a stash's GPU tensors, pinned buffers and events back. Host buffers are reused only by later
    /// copies on the same copy stream, which the stream orders after this stash's copies.</summary>
    void Reclaim(Stash stash)
    {
        lock (gate)
        {
            if (stash.Done) return;
            stash.Done = true;
            pending.Remove(stash);
            if (disposed) return;
            if (!onGpu)
            {
                foreach (var e in stash.Entries) { e.Prefetched?.Dispose(); e.Prefetched = null; }
                return;
            }
            foreach (var e in stash.Entries)
            {
                ReleaseSource(e);
                if (e.Prefetched is { } p)
                {
                    CudaDriver.Wait(CudaDriver.ComputeStream, e.Loaded);
                    p.Dispose();
                    e.Prefetched = null;
                }
                if (e.Loaded != IntPtr.Zero) { GiveEvent(e.Loaded); e.Loaded = IntPtr.Zero; }
                GiveEvent(e.Copied);
                buffers.Give(e.Host, e.Capacity);
            }
        }
    }

    IntPtr TakeEvent()
    {
        if (freeEvents.Count > 0) return freeEvents.Pop();
        var e = CudaDriver.CreateEvent();
        events.Add(e);
        return e;
    }

    void GiveEvent(IntPtr e) => freeEvents.Push(e);

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            foreach (var s in pending.ToList()) Reclaim(s);
            disposed = true;
            if (!onGpu) return;
            CudaDriver.SynchronizeStream(copyStream);
            CudaDriver.SynchronizeStream(CudaDriver.ComputeStream);
            buffers.ReleaseAll();
            foreach (var e in events) CudaDriver.DestroyEvent(e);
            CudaDriver.DestroyStream(copyStream);
            events.Clear(); freeEvents.Clear();
        }
    }
}
