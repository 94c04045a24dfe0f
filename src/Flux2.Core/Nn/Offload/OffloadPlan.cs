namespace Flux2.Nn.Offload;

/// <summary>Copy block <paramref name="Block"/>'s weights from pinned host memory into GPU slot
/// <paramref name="Slot"/>.</summary>
public readonly record struct SlotLoad(int Block, int Slot);

/// <summary>
/// The bookkeeping of layer offloading, free of CUDA so it can be tested on any machine: which blocks are offloaded,
/// which GPU slot holds which block, and what to prefetch next. <see cref="BlockOffloader"/> turns its answers into
/// copies and events.
/// <para>Slots come in pools, one per block layout (a double-stream and a single-stream block have different tensor
/// shapes); a block only ever goes to a slot of its own pool. A slot is either empty, holds a block's weights, or is in
/// use (between the block's Enter and Exit). It is never chosen for a new load while in use, which is what makes the
/// copy safe: the copy stream additionally waits for the event recorded on the compute stream at the previous user's
/// Exit, so it cannot overwrite weights that queued kernels still read.</para>
/// <para>Prefetch: after every Enter and Exit, the next offloaded blocks in the predicted order are made resident, as
/// many per pool as that pool has slots not in use. The predicted order continues the current pass (ascending in a
/// forward, descending in a checkpointed backward's recomputes) and then wraps to the next pass: a forward whose
/// gradients are recorded is followed by the backward (descending from the top, whose first blocks are the ones just
/// used, so they stay resident), anything else by another forward (ascending from the bottom: the first blocks of the
/// next step get prefetched while this one finishes). A slot to load into is an empty one, else the one whose block
/// was used least recently and is not itself in the prefetch window (in a scan that is the block needed last).</para>
/// </summary>
public sealed class OffloadPlan
{
    sealed class Slot(int pool)
    {
        public readonly int Pool = pool;
        public int Block = -1;       // -1: empty
        public bool InUse;
        public long LastUse;         // clock value of the last Enter (or of the load, for a prefetch never used yet)
    }

    readonly int[] poolOfBlock;      // -1: resident block, never moves
    readonly Slot[] slots;
    readonly int[] offloaded;        // ascending
    long clock;
    int position = -1;               // last block entered (-1: before the first forward)
    bool descending, backwardFollows;

    public int BlockCount => poolOfBlock.Length;
    public IReadOnlyList<int> Offloaded => offloaded;
    public int SlotCount => slots.Length;
    public int PoolOfSlot(int slot) => slots[slot].Pool;
    public int PoolOf(int block) => poolOfBlock[block];
    public bool IsOffloaded(int block) => poolOfBlock[block] >= 0;

    /// <param name="poolOfBlock">For each block in execution order: its layout pool (0, 1, ...), or -1 when the block
    /// stays resident on the GPU.</param>
    /// <param name="slotsPerPool">GPU slots per pool: 2 lets one block compute while the next one is copied.</param>
    public OffloadPlan(IReadOnlyList<int> poolOfBlock, int slotsPerPool)
    {
        if (slotsPerPool < 1) throw new ArgumentOutOfRangeException(nameof(slotsPerPool),
            "at least one GPU slot per block layout");
        this.poolOfBlock = poolOfBlock.ToArray();
        offloaded = Enumerable.Range(0, this.poolOfBlock.Length).Where(IsOffloaded).ToArray();
        int pools = this.poolOfBlock.DefaultIfEmpty(-1).Max() + 1;
        slots = Enumerable.Range(0, pools).SelectMany(p => Enumerable.Range(0, slotsPerPool).Select(_ => new Slot(p)))
            .ToArray();
    }

    /// <summary>
    /// round(percent · blockCount) block indices to offload, spread evenly over the execution order (Bresenham), so
    /// offloaded and resident blocks interleave and block 0 stays resident when any stays. Why spread and not the last
    /// blocks: a block's copy can only overlap the compute that runs while it is in flight. At FLUX.2-dev size a
    /// block's host-to-device copy over PCIe takes about twice its forward compute at 1024², so offloaded blocks run
    /// back to back would be copy-bound; between resident blocks each copy gets the resident blocks' compute time to
    /// hide in.
    /// </summary>
    public static int[] ChooseBlocks(int blockCount, double percent)
    {
        if (double.IsNaN(percent) || percent < 0 || percent > 1) throw new ArgumentOutOfRangeException(nameof(percent),
            percent, "offloaded fraction must be between 0 and 1");
        int n = (int)Math.Round(percent * blockCount, MidpointRounding.AwayFromZero);
        return Enumerable.Range(0, blockCount).Where(i => (long)(i + 1) * n / blockCount > (long)i * n / blockCount)
            .ToArray();
    }

    /// <summary>Where block <paramref name="block"/> is resident, or -1.</summary>
    public int SlotOf(int block) => Array.FindIndex(slots, s => s.Block == block);

    /// <summary>Prefetch for the first forward (at attach time).</summary>
    public IReadOnlyList<SlotLoad> Start() => Prefetch();

    /// <summary>Block <paramref name="block"/> is about to run. Returns its slot (-1 for a resident block) and the
    /// loads to enqueue, in order: its own load first when it was not prefetched, then prefetches.</summary>
    /// <param name="backwardFollows">For a forward block: gradients are being recorded, so the backward pass comes
    /// next.</param>
    public (int Slot, IReadOnlyList<SlotLoad> Loads) Enter(int block, bool recompute, bool backwardFollows)
    {
        CheckIndex(block);
        position = block;
        descending = recompute;
        this.backwardFollows = !recompute && backwardFollows;
        if (!IsOffloaded(block)) return (-1, Prefetch());

        var loads = new List<SlotLoad>();
        int slot = SlotOf(block);
        if (slot >= 0 && slots[slot].InUse)
            throw new InvalidOperationException($"block {block} entered twice without an Exit");
        if (slot < 0)
        {
            slot = Victim(poolOfBlock[block], Window(), lastResort: true)
                ?? throw new InvalidOperationException($"block {block}: all GPU slots of its layout are in use " +
                    $"(blocks entered without Exit)");
            slots[slot].Block = block;
            loads.Add(new SlotLoad(block, slot));
        }
        slots[slot].InUse = true;
        slots[slot].LastUse = ++clock;
        loads.AddRange(Prefetch());
        return (slot, loads);
    }

    /// <summary>Block <paramref name="block"/> has enqueued its last kernel. Returns the slot it releases (-1 for a
    /// resident block) and the prefetches that the freed slot allows.</summary>
    public (int Slot, IReadOnlyList<SlotLoad> Loads) Exit(int block, bool recompute)
    {
        CheckIndex(block);
        if (!IsOffloaded(block)) return (-1, Array.Empty<SlotLoad>());
        int slot = SlotOf(block);
        if (slot < 0 || !slots[slot].InUse)
            throw new InvalidOperationException($"block {block} exited without being entered");
        slots[slot].InUse = false;
        return (slot, Prefetch());
    }

    /// <summary>Offloaded blocks in the order they are expected to run next, after the current position.</summary>
    IEnumerable<int> Upcoming()
    {
        IEnumerable<int> rest = descending ? offloaded.Where(b => b < position).Reverse()
            : offloaded.Where(b => b > position);
        IEnumerable<int> next = !descending && backwardFollows ? offloaded.Reverse() : offloaded;
        return rest.Concat(next).Distinct();
    }

    /// <summary>Per pool, the first blocks of <see cref="Upcoming"/> that fit in the pool's slots not in use.</summary>
    HashSet<int> Window()
    {
        var free = slots.GroupBy(s => s.Pool).ToDictionary(g => g.Key, g => g.Count(s => !s.InUse));
        var inUse = slots.Where(s => s.InUse).Select(s => s.Block).ToHashSet();
        var window = new HashSet<int>();
        foreach (var b in Upcoming())
        {
            if (inUse.Contains(b)) continue;
            int pool = poolOfBlock[b];
            if (free[pool] == 0) continue;
            free[pool]--;
            window.Add(b);
        }
        return window;
    }

    List<SlotLoad> Prefetch()
    {
        var window = Window();
        var loads = new List<SlotLoad>();
        foreach (var b in Upcoming().Where(window.Contains))
        {
            if (SlotOf(b) >= 0) continue;
            int? victim = Victim(poolOfBlock[b], window, lastResort: false);
            if (victim is not int s) continue; // cannot happen: the window never exceeds the free slots
            slots[s].Block = b;
            slots[s].LastUse = ++clock;
            loads.Add(new SlotLoad(b, s));
        }
        return loads;
    }

    /// <summary>A slot of <paramref name="pool"/> not in use: empty first, else the least recently used whose block is
    /// outside the window (or, as a last resort for a block that must run now, any one not in use).</summary>
    int? Victim(int pool, HashSet<int> window, bool lastResort)
    {
        var candidates = Enumerable.Range(0, slots.Length).Where(i => slots[i].Pool == pool && !slots[i].InUse)
            .ToList();
        var empty = candidates.Where(i => slots[i].Block < 0).ToList();
        if (empty.Count > 0) return empty[0];
        var outside = candidates.Where(i => !window.Contains(slots[i].Block)).OrderBy(i => slots[i].LastUse).ToList();
        if (outside.Count > 0) return outside[0];
        return lastResort && candidates.Count > 0 ? candidates.OrderBy(i => slots[i].LastUse).First() : null;
    }

    void CheckIndex(int block)
    {
        if (block < 0 || block >= poolOfBlock.Length) throw new ArgumentOutOfRangeException(nameof(block), block,
            $"the model has {poolOfBlock.Length} blocks");
    }
}
