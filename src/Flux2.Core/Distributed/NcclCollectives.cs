using Flux2.Native;
using static TorchSharp.torch;

namespace Flux2.Distributed;

/// <summary>
/// NCCL all-reduce and broadcast on CUDA buffers. The communicator is non-blocking (ncclConfig_t.blocking = 0), so init
/// and every enqueue return at once and are polled with ncclCommGetAsyncError — which is what lets a watchdog
/// <see cref="Abort"/> a communicator whose peer died instead of hanging in it (NCCL docs, "Fault tolerance").
/// The buckets of one step go in one ncclGroupStart/End (a single launch); ncclAvg divides by the world size inside
/// NCCL.
/// </summary>
public sealed class NcclCollectives : ICollectives
{
    IntPtr comm;
    readonly CollectiveDeadline deadline;
    readonly int rank;

    public string Name => $"nccl {Nccl.Version / 10000}.{Nccl.Version / 100 % 100}.{Nccl.Version % 100}";

    NcclCollectives(IntPtr comm, CollectiveDeadline deadline, int rank)
    {
        this.comm = comm; this.deadline = deadline;
        this.rank = rank;
    }

    /// <summary>Joins the communicator of <paramref name="worldSize"/> ranks named by <paramref name="uniqueId"/>, on
    /// the current CUDA device (<see cref="CudaRuntime.SetDevice"/> first).</summary>
    public static NcclCollectives Create(int rank, int worldSize, byte[] uniqueId, CollectiveDeadline deadline)
    {
        Nccl.EnsureLoaded();
        var config = Nccl.Config.NonBlocking();
        Nccl.Check(Nccl.ncclCommInitRankConfig(out var comm, worldSize, Nccl.UniqueId.From(uniqueId), rank,
            ref config), "ncclCommInitRankConfig");
        var self = new NcclCollectives(comm, deadline, rank);
        deadline.Begin("NCCL communicator setup");
        self.WaitQueued("ncclCommInitRankConfig");
        deadline.End();
        return self;
    }

    public static byte[] NewUniqueId()
    {
        Nccl.EnsureLoaded();
        var id = new byte[Nccl.UniqueIdBytes];
        Nccl.Check(Nccl.ncclGetUniqueId(id), "ncclGetUniqueId");
        return id;
    }

    public void AllReduceMean(IReadOnlyList<Tensor> buffers) => Run("NCCL all-reduce", buffers,
        b => Nccl.ncclAllReduce(Float32Pointer(b), Float32Pointer(b), (nuint)b.numel(), Nccl.DataType.Float32,
            Nccl.RedOp.Avg, comm, IntPtr.Zero));

    public void Broadcast(IReadOnlyList<Tensor> buffers) => Run("NCCL broadcast", buffers,
        b => Nccl.ncclBroadcast(Float32Pointer(b), Float32Pointer(b), (nuint)b.numel(), Nccl.DataType.Float32, 0, comm,
            IntPtr.Zero));

    /// <summary>The buckets are fp32 (GradientBuckets), which is what the calls above tell NCCL.</summary>
    static IntPtr Float32Pointer(Tensor t) => t.dtype == ScalarType.Float32 ? TensorPointer.Of(t)
        : throw new ArgumentException($"NCCL buffers here are float32, got {t.dtype}");

    void Run(string what, IReadOnlyList<Tensor> buffers, Func<Tensor, Nccl.Result> enqueue)
    {
        foreach (var b in buffers)
            if (b.dtype != ScalarType.Float32 || !b.is_contiguous() || b.device.type != TorchSharp.DeviceType.CUDA)
                throw new ArgumentException($"{what}: buffers must be contiguous fp32 CUDA tensors");
        deadline.Begin(what);
        Nccl.Check(Nccl.ncclGroupStart(), "ncclGroupStart");
        foreach (var b in buffers) Nccl.Check(enqueue(b), what);
        Nccl.Check(Nccl.ncclGroupEnd(), "ncclGroupEnd");
        WaitQueued(what);
        // The kernels run on the default stream after backward's; waiting here keeps the deadline honest (a dead peer
        // leaves the kernel spinning, and the watchdog, not this thread, ends the process then).
        cuda.synchronize();
        deadline.End();
    }

    /// <summary>Polls until NCCL has queued the work (non-blocking communicators return ncclInProgress until
    /// then).</summary>
    void WaitQueued(string what)
    {
        while (true)
        {
            Nccl.Check(Nccl.ncclCommGetAsyncError(comm, out var state), "ncclCommGetAsyncError");
            if (state == Nccl.Result.Success) return;
            if (state != Nccl.Result.InProgress)
                throw new DistributedException($"rank {rank}: {what} failed: {Nccl.ErrorString(state)} ({state})");
            if (deadline.Overdue() is { } late) throw new DistributedException($"rank {rank}: {late}");
            Thread.Sleep(1);
        }
    }

    /// <summary>An asynchronous NCCL error (e.g. a remote rank's), or null; safe from the watchdog thread.</summary>
    public string? AsyncError()
    {
        if (comm == IntPtr.Zero) return null;
        if (Nccl.ncclCommGetAsyncError(comm, out var state) != Nccl.Result.Success) return null;
        return state is Nccl.Result.Success or Nccl.Result.InProgress ? null
            : $"NCCL reported {Nccl.ErrorString(state)} ({state})";
    }

    /// <summary>Stops the communicator's kernels and frees it without waiting for peers (the failure path).</summary>
    public void Abort()
    {
        var c = Interlocked.Exchange(ref comm, IntPtr.Zero);
        if (c != IntPtr.Zero) Nccl.ncclCommAbort(c);
    }

    /// <summary>Frees the communicator with ncclCommAbort rather than ncclCommDestroy: every collective has completed
    /// (each is synchronized), and destroy may wait until all peers quiesce — while rank 0 still renders its final
    /// samples the others would sit in it. PyTorch's process-group shutdown aborts for the same reason.</summary>
    public void Dispose() => Abort();
}
