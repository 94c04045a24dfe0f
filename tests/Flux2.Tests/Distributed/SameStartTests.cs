using Flux2.Distributed;
using Flux2.Native;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Distributed;

/// <summary>Ranks that would resume from different checkpoints (a training folder not shared between hosts) stop with
/// the reason instead of training from different steps.</summary>
public class SameStartTests
{
    static ProcessGroup Group(int rank, int port) => new(rank, 2, rank, "127.0.0.1", port);

    static (DataParallel, DataParallel) JoinTwoOnCpu()
    {
        TorchRuntime.EnsureLoaded();
        int port = LaunchPlan.FreePort();
        var hb = TimeSpan.FromSeconds(30);
        var r1 = Task.Run(() => Rendezvous.Join(Group(1, port), TimeSpan.FromSeconds(20), hb));
        var r0 = Rendezvous.Join(Group(0, port), TimeSpan.FromSeconds(20), hb);
        var rv1 = r1.Result;
        var p1 = Task.Run(() => DataParallel.Join(Group(1, port), CPU, onFailure: _ => { }, rendezvous: rv1));
        var p0 = DataParallel.Join(Group(0, port), CPU, onFailure: _ => { }, rendezvous: r0);
        return (p0, p1.Result);
    }

    [Fact]
    public void RanksStartingFromDifferentStepsStopWithTheReason()
    {
        var (p0, p1) = JoinTwoOnCpu();
        try
        {
            var other = Task.Run(() => p1.CheckSameStart(20));
            p0.CheckSameStart(0);
            var e = Assert.Throws<AggregateException>(() => other.Wait()).InnerException;
            var d = Assert.IsType<DistributedException>(e);
            Assert.Contains("rank 1 would start at step 20 but rank 0 starts at step 0", d.Message);
            Assert.Contains("storage all hosts share", d.Message);
        }
        finally { p1.Dispose(); p0.Dispose(); }
    }

    [Fact]
    public void RanksStartingFromTheSameStepGoOn()
    {
        var (p0, p1) = JoinTwoOnCpu();
        try
        {
            var other = Task.Run(() => p1.CheckSameStart(20));
            p0.CheckSameStart(20);
            other.Wait();
        }
        finally { p1.Dispose(); p0.Dispose(); }
    }
}
