using Flux2.Training.State;
using Xunit;

namespace Flux2.Tests.Training.Resume;

public class TrainerRandomTests
{
    [Fact]
    public void RestoredStateReplaysTheSameDrawsIncludingShuffle()
    {
        var a = new TrainerRandom(7);
        for (int i = 0; i < 10; i++) a.NextDouble();
        var b = new TrainerRandom(123);
        b.State = a.State;
        var x = Enumerable.Range(0, 20).ToArray();
        var y = x.ToArray();
        a.Shuffle(x);
        b.Shuffle(y);
        Assert.Equal(x, y);
        Assert.NotEqual(Enumerable.Range(0, 20), x);
        Assert.Equal(Enumerable.Range(0, 5).Select(_ => a.NextDouble()),
            Enumerable.Range(0, 5).Select(_ => b.NextDouble()));
        Assert.Equal(a.Next(3, 9), b.Next(3, 9));
    }

    [Fact]
    public void DrawsAreInRangeAndRoughlyUniform()
    {
        var r = new TrainerRandom(0);
        var d = Enumerable.Range(0, 20000).Select(_ => r.NextDouble()).ToArray();
        Assert.All(d, v => Assert.InRange(v, 0, 0.9999999999));
        Assert.InRange(d.Average(), 0.49, 0.51);
        var counts = new int[6];
        for (int i = 0; i < 6000; i++) counts[r.Next(6)]++;
        Assert.All(counts, c => Assert.InRange(c, 850, 1150));
    }
}
