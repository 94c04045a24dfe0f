using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Flux2.Distributed;

/// <summary>
/// All-reduce and broadcast through the rendezvous store, for CPU ranks (NCCL needs GPUs): each rank posts its buffer
/// under a sequence-numbered key, reads everyone's, and sums them in rank order — so every rank gets bit-identical
/// results, as with NCCL. Slow (every value crosses TCP twice per rank), meant for the micro model's small LoRA and for
/// testing the data-parallel path on machines without GPUs.
/// </summary>
public sealed class StoreCollectives(TcpStoreClient store, int rank, int worldSize, CollectiveDeadline deadline)
    : ICollectives
{
    long sequence;

    public string Name => "store (CPU, over TCP)";

    public void AllReduceMean(IReadOnlyList<Tensor> buffers)
    {
        deadline.Begin("store all-reduce");
        long seq = sequence++;
        for (int b = 0; b < buffers.Count; b++)
        {
            var mine = ToArray(buffers[b]);
            store.Set(Key("ar", seq, b, rank), MemoryMarshal.AsBytes(mine.AsSpan()));
            var sum = new float[mine.Length];
            for (int r = 0; r < worldSize; r++)
            {
                var theirs = r == rank ? mine
                    : MemoryMarshal.Cast<byte, float>(store.Get(Key("ar", seq, b, r), deadline.Timeout,
                                                                $"rank {r}'s gradients")).ToArray();
                if (theirs.Length != mine.Length)
                    throw new DistributedException($"rank {rank}: rank {r} sent {theirs.Length} values for bucket " +
                        $"{b}, this rank has {mine.Length}");
                for (int i = 0; i < sum.Length; i++) sum[i] += theirs[i];
            }
            for (int i = 0; i < sum.Length; i++) sum[i] /= worldSize;
            CopyInto(buffers[b], sum);
            // Everyone has read this rank's previous round once they posted this one, which this rank has just read.
            if (seq > 0) store.Delete(Key("ar", seq - 1, b, rank));
        }
        deadline.End();
    }

    public void Broadcast(IReadOnlyList<Tensor> buffers)
    {
        deadline.Begin("store broadcast");
        long seq = sequence++;
        for (int b = 0; b < buffers.Count; b++)
        {
            var key = Key("bc", seq, b, 0);
            if (rank == 0) store.Set(key, MemoryMarshal.AsBytes(ToArray(buffers[b]).AsSpan()));
            else CopyInto(buffers[b], MemoryMarshal.Cast<byte, float>(store.Get(key, deadline.Timeout,
                "rank 0's broadcast")).ToArray());
        }
        deadline.End();
    }

    static string Key(string op, long seq, int bucket, int rank) => $"{op}/{seq}/{bucket}/{rank}";

    static float[] ToArray(Tensor t) => t.to(CPU).data<float>().ToArray();

    static void CopyInto(Tensor target, float[] values)
    {
        using var _ = no_grad();
        using var source = tensor(values);
        target.copy_(source.view(target.shape));
    }

    public void Dispose() { }
}
