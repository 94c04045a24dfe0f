using System.Runtime.InteropServices;
using Flux2.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Distributed;

/// <summary>
/// One rank's membership in a data-parallel job: rendezvous through rank 0's store, the collectives backend (NCCL on
/// CUDA, <see cref="StoreCollectives"/> on CPU), the <see cref="PeerWatchdog"/>, and the <see cref="IDataParallel"/>
/// hooks the trainer calls, with gradients reduced in <see cref="GradientBuckets"/>. Dispose leaves cleanly.
/// </summary>
public sealed class DataParallel : IDataParallel, IDisposable
{
    readonly Rendezvous rendezvous;
    readonly ICollectives collectives;
    readonly PeerWatchdog watchdog;
    readonly Device device;
    readonly long bucketBytes;
    GradientBuckets? plan;

    public ProcessGroup Group => rendezvous.Group;
    public int Rank => Group.Rank;
    public int WorldSize => Group.WorldSize;
    public string Backend => collectives.Name;

    DataParallel(Rendezvous rendezvous, ICollectives collectives, PeerWatchdog watchdog, Device device,
        long bucketBytes)
    {
        this.rendezvous = rendezvous; this.collectives = collectives; this.watchdog = watchdog; this.device = device;
        this.bucketBytes = bucketBytes;
    }

    /// <summary>Joins the job <paramref name="group"/> describes, training on <paramref name="device"/>
    /// (cuda:LOCAL_RANK or cpu).
    /// <paramref name="onFailure"/>: what the watchdog does when a peer fails (default: message and exit code
    /// 3).</summary>
    public static DataParallel Join(ProcessGroup group, Device device, Action<string>? log = null,
                                    Action<string>? onFailure = null,
                                    long bucketBytes = GradientBuckets.DefaultCapBytes, Rendezvous? rendezvous = null)
    {
        var deadline = new CollectiveDeadline(CollectiveDeadline.FromEnvironment());
        rendezvous ??= Rendezvous.Join(group);
        // The watchdog starts at once: its pings are this rank's heartbeat while it loads the model or waits in NCCL
        // setup.
        NcclCollectives? nccl = null;
        var watchdog = new PeerWatchdog(rendezvous.Store, () => deadline.Overdue() ?? nccl?.AsyncError(),
                                        onFailure ?? PeerWatchdog.ExitProcess(group.Rank, () => nccl?.Abort()));
        ICollectives collectives;
        try
        {
            if (device.type == TorchSharp.DeviceType.CUDA)
            {
                // NVLink SHARP / multicast stays off unless NCCL_NVLS_ENABLE is set: not reliable on every GPU host.
                if (Environment.GetEnvironmentVariable("NCCL_NVLS_ENABLE") is null) setenv("NCCL_NVLS_ENABLE", "0", 0);
                CudaRuntime.SetDevice(device.index < 0 ? 0 : device.index);
                var id = rendezvous.ShareFromMain("nccl_unique_id", NcclCollectives.NewUniqueId);
                collectives = nccl = NcclCollectives.Create(group.Rank, group.WorldSize, id, deadline);
            }
            else collectives = new StoreCollectives(rendezvous.Store, group.Rank, group.WorldSize, deadline);
        }
        catch
        {
            watchdog.Dispose();
            rendezvous.Dispose();
            throw;
        }
        log?.Invoke($"data parallel: {group}, device {device}, collectives {collectives.Name}, gradient buckets of " +
            $"{bucketBytes >> 20} MB");
        return new DataParallel(rendezvous, collectives, watchdog, device, bucketBytes);
    }

    public void AverageGradients(IReadOnlyList<Parameter> parameters)
        => Reduce(parameters, parameters.Select(p => p.grad).ToList(), collectives.AllReduceMean);

    public void CopyFromMain(IReadOnlyList<Parameter> parameters)
    {
        using var _ = no_grad();
        Reduce(parameters, parameters.Cast<Tensor?>().ToList(), collectives.Broadcast);
    }

    void Reduce(IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor?> tensors,
        Action<IReadOnlyList<Tensor>> collective)
    {
        using var scope = NewDisposeScope();
        plan ??= GradientBuckets.For(parameters.Cast<Tensor>().ToList(), bucketBytes);
        var flat = plan.Buckets.Select(b => plan.Flatten(b, tensors, device)).ToList();
        collective(flat);
        for (int i = 0; i < flat.Count; i++) plan.Unflatten(plan.Buckets[i], flat[i], tensors);
    }

    /// <summary>Waits until every rank has called this with the same <paramref name="name"/>; a rank that dies
    /// meanwhile ends the wait with the store's failure message.</summary>
    public void Barrier(string name, TimeSpan timeout) => rendezvous.Barrier(name, "reach", timeout);

    /// <summary>Rank 0's outputs (samples, evaluation, saves) have no fixed duration: the wait is bounded by the peers'
    /// heartbeats, not by the collective deadline (FLUX2_NCCL_TIMEOUT).</summary>
    public void WaitTogether(string what) => Barrier(what, TimeSpan.FromHours(12));

    public double[] Average(double[] values)
    {
        using var scope = NewDisposeScope();
        var buffer = tensor(values.Select(v => (float)v).ToArray()).to(device);
        collectives.AllReduceMean(new[] { buffer });
        return buffer.to(CPU).data<float>().ToArray().Select(v => (double)v).ToArray();
    }

    /// <summary>Every rank must start from the checkpoint rank 0 starts from (0: a fresh run). Ranks on other hosts
    /// find checkpoints in their own view of the training folder: if it is not shared, they would silently train from
    /// another step — stop with the reason instead.</summary>
    public void CheckSameStart(int step)
    {
        int mainStep = BitConverter.ToInt32(rendezvous.ShareFromMain("start_step", () => BitConverter.GetBytes(step)));
        if (mainStep != step)
            throw new DistributedException($"rank {Rank} would start at step {step} but rank 0 starts at step " +
                $"{mainStep}: the ranks see different checkpoints in the training folder. On several hosts, put " +
                "training_folder on storage all hosts share (docs/multi-gpu.md).");
    }

    /// <summary>Call when this rank's work ended normally: its leave is then a goodbye, not a failure (see
    /// <see cref="Rendezvous.Dispose"/>).</summary>
    public void Complete() => rendezvous.Completed = true;

    public void Dispose()
    {
        watchdog.Dispose();
        collectives.Dispose();
        rendezvous.Dispose();
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    static extern int setenv(string name, string value, int overwrite);
}
