using System.Diagnostics;
using Flux2.Distributed;
using Flux2.Tests.Cli;
using Xunit;

namespace Flux2.Tests.Distributed;

/// <summary>The launcher's supervision, with tiny shell scripts as ranks: output routing, the environment each rank
/// gets, and a failing rank stopping the others with a message (a failed rank stops the whole job).</summary>
public class LauncherTests
{
    static (int exit, string output, string error, TimeSpan took) Launch(LaunchPlan plan, string script)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var clock = Stopwatch.StartNew();
        int exit = new LocalLauncher(plan, o, e).Run("/bin/bash", new[] { "-c", script });
        return (exit, o.ToString(), e.ToString(), clock.Elapsed);
    }

    [Fact]
    public void AFailingRankStopsTheOthersAndTheJobExitsWithItsCode()
    {
        var (exit, _, error, took) = Launch(new LaunchPlan(3, MasterPort: 1234),
            """if [ "$RANK" = 1 ]; then sleep 0.5; echo "rank one broke" >&2; exit 3; fi; exec sleep 60""");
        Assert.Equal(3, exit);
        Assert.True(took < TimeSpan.FromSeconds(15), $"took {took}");
        Assert.Contains("[rank 1] rank one broke", error);
        Assert.Contains("rank 1 (pid", error);
        Assert.Contains("exited with code 3 (it saw a peer rank fail)", error);
        Assert.Contains("stopping the other ranks", error);
        Assert.Contains("Run the same command again to resume", error);
    }

    /// <summary>A rank whose watchdog saw the peer die can exit before the launcher sees the peer's own exit: the rank
    /// that failed first is the one reported.</summary>
    [Fact]
    public void ARankStoppedByItsWatchdogDoesNotHideThePeerThatDied()
    {
        var (exit, _, error, _) = Launch(new LaunchPlan(2, MasterPort: 1234),
            """if [ "$RANK" = 0 ]; then sleep 0.2; exit 3; fi; sleep 0.6; kill -9 $$""");
        Assert.Equal(137, exit);
        Assert.Contains("rank 1 (pid", error);
        Assert.Contains("was killed by signal 9 (SIGKILL)", error);
        Assert.DoesNotContain("rank 0 (pid", error);
    }

    [Fact]
    public void AKilledRankIsNamedWithItsSignal()
    {
        var (exit, _, error, took) = Launch(new LaunchPlan(2, MasterPort: 1234),
            """if [ "$RANK" = 1 ]; then sleep 0.3; kill -9 $$; fi; exec sleep 60""");
        Assert.Equal(137, exit);
        Assert.True(took < TimeSpan.FromSeconds(15), $"took {took}");
        Assert.Contains("rank 1 (pid", error);
        Assert.Contains("was killed by signal 9 (SIGKILL)", error);
    }

    [Fact]
    public void RankZeroIsStreamedOthersOnlyReportErrorsAndEachGetsItsEnvironment()
    {
        var (exit, output, error, _) = Launch(new LaunchPlan(2, Nodes: 2, NodeRank: 1, MasterAddr: "node0",
            MasterPort: 4321),
            """printf 'progress\r'; """ +
            """echo "rank $RANK of $WORLD_SIZE local $LOCAL_RANK via $MASTER_ADDR:$MASTER_PORT"; """ +
            """echo "note from $RANK" >&2""");
        Assert.Equal(0, exit);
        // node 1 of 2 with 2 GPUs each: local ranks 0, 1 are global ranks 2, 3; local rank 0's output is this host's
        Assert.Equal("progress\rrank 2 of 4 local 0 via node0:4321\n", output);
        Assert.DoesNotContain("rank 3 of 4", output);
        Assert.Contains("note from 2", error);
        Assert.Contains("[rank 3] note from 3", error);
    }

    [Fact]
    public void RanksStoppedByCtrlCAreNoFailure()
    {
        var (exit, _, error, _) = Launch(new LaunchPlan(2, MasterPort: 1234),
            """if [ "$RANK" = 1 ]; then exit 130; fi; sleep 0.5; exit 130""");
        Assert.Equal(130, exit);
        Assert.DoesNotContain("stopping the other ranks", error);
    }

    [Theory]
    [InlineData(new[] { "--nnodes", "2" }, "need --gpus N")]
    [InlineData(new[] { "--gpus", "2", "--nnodes", "2" }, "needs --master-addr")]
    [InlineData(new[] { "--gpus", "2", "--nnodes", "2", "--node-rank", "2", "--master-addr", "h" },
        "--node-rank must be in 0..1")]
    [InlineData(new[] { "--gpus", "0", "--master-port", "5" }, "need --gpus N")]
    public void BadLaunchOptionsAreUserErrors(string[] options, string message)
    {
        var job = Path.Combine(TestPaths.TempDir(), "job.yaml");
        File.WriteAllText(job, "job: extension\n");
        CliRunner.AssertUserError(CliRunner.Run(new[] { "train", job }.Concat(options).ToArray()), message);
    }

    [Fact]
    public void TrainHelpDocumentsTheMultiGpuOptions()
    {
        var r = CliRunner.Run("help", "train");
        foreach (var s in new[] { "--gpus N", "--nnodes K", "--node-rank R", "--master-addr", "--master-port",
            "docs/multi-gpu.md" })
            Assert.Contains(s, r.Out);
    }
}
