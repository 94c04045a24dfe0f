using Flux2.Nn.Offload;
using Xunit;

namespace Flux2.Tests.Nn;

/// <summary>
/// The offloading plan, driven like the transformer drives it: forwards ascending, and with gradient checkpointing a
/// backward whose recomputes run descending. A small simulator applies the plan's loads to slots and checks, at every
/// step, the two safety rules (a block's weights are in its slot when it runs; no slot is loaded while its user has
/// not exited) and the prefetch order.
/// </summary>
public class OffloadPlanTests
{
    /// <summary>Applies loads like the GPU would and records what happened.</summary>
    sealed class Simulator(OffloadPlan plan)
    {
        readonly Dictionary<int, int> content = new();   // slot -> block whose weights it holds
        readonly Dictionary<int, int> user = new();      // slot -> block between Enter and Exit
        public List<SlotLoad> Prefetches { get; } = new();
        public List<int> Misses { get; } = new();        // blocks whose load was only issued at their own Enter

        void Apply(IEnumerable<SlotLoad> loads, int entering)
        {
            foreach (var l in loads)
            {
                Assert.False(user.ContainsKey(l.Slot),
                    $"slot {l.Slot} loaded with block {l.Block} while block " +
                    $"{(user.TryGetValue(l.Slot, out var u) ? u : -1)} still uses it");
                Assert.Equal(plan.PoolOf(l.Block), plan.PoolOfSlot(l.Slot));
                Assert.True(plan.IsOffloaded(l.Block));
                content[l.Slot] = l.Block;
                if (l.Block == entering) Misses.Add(l.Block); else Prefetches.Add(l);
            }
        }

        public void Start() => Apply(plan.Start(), -1);

        public void Run(int block, bool recompute, bool backwardFollows = false)
        {
            var (slot, loads) = plan.Enter(block, recompute, backwardFollows);
            Apply(loads, block);
            if (plan.IsOffloaded(block))
            {
                Assert.True(content.TryGetValue(slot, out var b) && b == block,
                    $"block {block} runs from slot {slot} which holds " +
                    $"{(content.TryGetValue(slot, out var c) ? c : -1)}");
                user[slot] = block;
            }
            else Assert.Equal(-1, slot);
            var (released, after) = plan.Exit(block, recompute);
            Assert.Equal(slot, released);
            user.Remove(slot);
            Apply(after, -1);
        }

        public void Forward(bool training)
        {
            for (int i = 0; i < plan.BlockCount; i++) Run(i, recompute: false, backwardFollows: training);
        }

        public void Backward()
        {
            for (int i = plan.BlockCount - 1; i >= 0; i--) Run(i, recompute: true);
        }
    }

    static OffloadPlan Plan(int doubles, int singles, double percent, int slots)
    {
        var chosen = OffloadPlan.ChooseBlocks(doubles + singles, percent).ToHashSet();
        return new OffloadPlan(Enumerable.Range(0, doubles + singles).Select(i =>
            chosen.Contains(i) ? (i < doubles ? 0 : 1) : -1).ToArray(), slots);
    }

    [Theory]
    [InlineData(56, 0.5, 28)]
    [InlineData(56, 1.0, 56)]
    [InlineData(56, 0.0, 0)]
    [InlineData(4, 0.5, 2)]
    [InlineData(32, 0.25, 8)]
    [InlineData(10, 0.33, 3)]
    public void ChoosesRoundedShareOfBlocks(int blocks, double percent, int expected)
    {
        var chosen = OffloadPlan.ChooseBlocks(blocks, percent);
        Assert.Equal(expected, chosen.Length);
        Assert.Equal(chosen.Distinct().OrderBy(i => i), chosen);
        Assert.All(chosen, i => Assert.InRange(i, 0, blocks - 1));
    }

    [Fact]
    public void HalfOffloadingInterleavesAndKeepsTheFirstBlockResident()
    {
        Assert.Equal(new[] { 1, 3, 5, 7, 9, 11 }, OffloadPlan.ChooseBlocks(12, 0.5));
        var quarter = OffloadPlan.ChooseBlocks(56, 0.25);
        Assert.DoesNotContain(0, quarter);
        // evenly spread: gaps between offloaded blocks differ by at most one
        var gaps = quarter.Zip(quarter.Skip(1), (a, b) => b - a).ToList();
        Assert.True(gaps.Max() - gaps.Min() <= 1, string.Join(",", gaps));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void RejectsPercentOutsideZeroToOne(double percent) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => OffloadPlan.ChooseBlocks(56, percent));

    [Theory]
    [InlineData(8, 48, 0.5, 2)]
    [InlineData(8, 48, 1.0, 2)]
    [InlineData(8, 48, 1.0, 3)]
    [InlineData(8, 48, 0.3, 2)]
    [InlineData(2, 2, 0.5, 2)]
    [InlineData(8, 24, 0.75, 3)]
    public void TrainingStepsFindEveryBlockPrefetched(int doubles, int singles, double percent, int slots)
    {
        var plan = Plan(doubles, singles, percent, slots);
        var sim = new Simulator(plan);
        sim.Start();
        for (int step = 0; step < 3; step++)
        {
            sim.Forward(training: true);
            sim.Backward();
        }
        Assert.Empty(sim.Misses); // the simulator already asserted slot safety at every load
    }

    [Fact]
    public void TrainingPassTurnaroundsReuseTheBlocksJustUsed()
    {
        var plan = Plan(8, 48, 1.0, 2);
        var sim = new Simulator(plan);
        sim.Start();
        sim.Forward(training: true);
        int before = sim.Prefetches.Count;
        // the backward's first recomputes need the forward's last blocks: still resident, so no copy at the turnaround
        sim.Run(55, recompute: true);
        Assert.Equal(before + 1, sim.Prefetches.Count); // one copy only: 53, into the slot 55 freed (54 was resident)
        Assert.Equal(53, sim.Prefetches[^1].Block);
    }

    [Theory]
    [InlineData(0.5, 2)]
    [InlineData(1.0, 2)]
    [InlineData(1.0, 3)]
    public void InferenceLoopPrefetchesTheNextForwardsFirstBlocks(double percent, int slots)
    {
        var plan = Plan(8, 48, percent, slots);
        var sim = new Simulator(plan);
        sim.Start();
        for (int step = 0; step < 3; step++) sim.Forward(training: false);
        Assert.Empty(sim.Misses);
    }

    [Fact]
    public void PrefetchOrderFollowsTheDirectionOfThePass()
    {
        var plan = Plan(8, 48, 1.0, 2);
        var sim = new Simulator(plan);
        sim.Start();
        Assert.Equal(new[] { 0, 1, 8, 9 }, sim.Prefetches.Select(p => p.Block).OrderBy(b => b));
        // both pools' first blocks

        sim.Prefetches.Clear();
        for (int i = 0; i < 8; i++) sim.Run(i, recompute: false, backwardFollows: true);
        var forward = sim.Prefetches.Where(p => plan.PoolOf(p.Block) == 0).Select(p => p.Block).ToList();
        Assert.Equal(Enumerable.Range(2, 6), forward); // doubles ascending, each into the slot its predecessor freed

        for (int i = 8; i < 56; i++) sim.Run(i, recompute: false, backwardFollows: true);
        sim.Prefetches.Clear();
        sim.Backward();
        var singles = sim.Prefetches.Where(p => plan.PoolOf(p.Block) == 1).Select(p => p.Block).ToList();
        var doubles = sim.Prefetches.Where(p => plan.PoolOf(p.Block) == 0).Select(p => p.Block).ToList();
        Assert.Equal(Enumerable.Range(8, 46).Reverse(), singles.Take(46));
        // 53 down to 8: 55 and 54 were still resident
        Assert.Equal(Enumerable.Range(0, 6).Reverse(), doubles.Take(6));   // 5 down to 0: 7 and 6 were still resident
    }

    [Fact]
    public void ResidentBlocksNeedNoSlot()
    {
        var plan = Plan(2, 2, 0.0, 2);
        Assert.Equal(0, plan.SlotCount);
        var sim = new Simulator(plan);
        sim.Start();
        sim.Forward(training: false);
        Assert.Empty(sim.Prefetches);
        Assert.Empty(sim.Misses);
    }

    [Fact]
    public void OutOfOrderUseStillLoadsTheBlockBeforeItRuns()
    {
        // e.g. a forward stopped by an exception half-way, then a fresh forward: the plan recovers by loading on demand
        var plan = Plan(8, 48, 1.0, 2);
        var sim = new Simulator(plan);
        sim.Start();
        for (int i = 0; i < 20; i++) sim.Run(i, recompute: false);
        sim.Forward(training: false);
        sim.Run(30, recompute: true);
        sim.Run(3, recompute: false);
        Assert.Contains(30, sim.Misses);
    }

    [Fact]
    public void MisuseIsReported()
    {
        var plan = Plan(2, 2, 1.0, 1);
        plan.Start();
        Assert.Throws<InvalidOperationException>(() => plan.Exit(1, recompute: false));      // exit without enter
        plan.Enter(0, false, false);
        Assert.Throws<InvalidOperationException>(() => plan.Enter(0, false, false));          // entered twice
        Assert.Throws<InvalidOperationException>(() => plan.Enter(1, false, false));          // its only slot is in use
        Assert.Throws<ArgumentOutOfRangeException>(() => plan.Enter(4, false, false));
    }
}
