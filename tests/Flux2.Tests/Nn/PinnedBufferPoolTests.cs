using Flux2.Nn.Offload;
using Xunit;

namespace Flux2.Tests.Nn;

/// <summary>The checkpoint-input offloader's pinned buffers: reused by any input that fits, and bounded by the largest
/// inputs seen when input sizes vary from step to step (aspect buckets).</summary>
public class PinnedBufferPoolTests
{
    sealed class Fake
    {
        long next = 1;
        public readonly HashSet<IntPtr> Live = new();
        public int Drains;
        public IntPtr Allocate(long bytes) { var p = (IntPtr)next++; Live.Add(p); return p; }
        public void Release(IntPtr p) => Assert.True(Live.Remove(p), "released twice or never allocated");
        public PinnedBufferPool Pool() => new(Allocate, Release, () => Drains++);
    }

    [Fact]
    public void ASmallerInputReusesALargerFreeBuffer()
    {
        var fake = new Fake();
        var pool = fake.Pool();
        var (big, capacity) = pool.Take(100);
        pool.Give(big, capacity);
        var (again, againCapacity) = pool.Take(60);
        Assert.Equal((big, 100L), (again, againCapacity));
        Assert.Equal(1, pool.Count);
    }

    [Fact]
    public void StepsWithGrowingAndShrinkingInputsKeepAboutOneSetOfTheLargest()
    {
        var fake = new Fake();
        var pool = fake.Pool();
        // 10 steps, each offloading 4 inputs of one bucket's size; sizes go up and down as buckets do.
        foreach (var size in new long[] { 50, 80, 60, 100, 70, 100, 90, 40, 100, 80 })
        {
            var taken = Enumerable.Range(0, 4).Select(_ => pool.Take(size)).ToList();
            Assert.All(taken, t => Assert.True(t.Capacity >= size));
            foreach (var (buffer, capacity) in taken) pool.Give(buffer, capacity);
        }
        Assert.Equal(4, pool.Count);
        Assert.Equal(400, pool.Bytes);          // one set of the largest, not a set per size (that would be 2,760)
        Assert.Equal(fake.Live.Count, pool.Count);
        Assert.True(fake.Drains > 0, "buffers were freed without draining the copies first");
        pool.ReleaseAll();
        Assert.Empty(fake.Live);
    }

    [Fact]
    public void ABufferNotFromThePoolIsRefused()
    {
        var pool = new Fake().Pool();
        var (b, c) = pool.Take(10);
        pool.Give(b, c);
        Assert.Throws<InvalidOperationException>(() => pool.Give(b, c));      // twice
        Assert.Throws<InvalidOperationException>(() => pool.Give((IntPtr)999, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Take(0));
    }
}
