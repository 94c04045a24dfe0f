using static TorchSharp.torch;

namespace Flux2.Training.Data;

/// <summary>
/// Rank <paramref name="Rank"/>'s share of each global batch in data-parallel training. Every rank draws the same
/// global batch (train.batch_size × world size items from the same seeded <see cref="BatchOrder"/>, plus captions,
/// timesteps and noise for all of them) and keeps its own contiguous slice, so N ranks × batch b see exactly the
/// samples, t and ε that one process with batch N·b would; with equal slices, the mean of the ranks' mean losses (and
/// gradients) is the global batch's. The data order thus lives in global batches, and the checkpoint's cursor is the
/// global one.
/// </summary>
public sealed record BatchShard(int Rank, int WorldSize)
{
    public static readonly BatchShard Single = new(0, 1);

    public int GlobalBatch(int perRank) => perRank * WorldSize;

    /// <summary>This rank's slice of a global list whose length is a multiple of the world size.</summary>
    public IReadOnlyList<T> Take<T>(IReadOnlyList<T> global)
    {
        int per = PerRank(global.Count);
        return global.Skip(Rank * per).Take(per).ToList();
    }

    /// <summary>This rank's slice along dim 0 of a global batch tensor.</summary>
    public Tensor Slice(Tensor global) => WorldSize == 1 ? global : global.narrow(0,
        Rank * PerRank((int)global.shape[0]), PerRank((int)global.shape[0]));

    int PerRank(int global)
    {
        if (global % WorldSize != 0)
            throw new ArgumentException($"a global batch of {global} does not split over {WorldSize} ranks");
        return global / WorldSize;
    }
}
