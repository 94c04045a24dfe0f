using System.Diagnostics;
using System.Net;
using System.Text;
using Flux2.Distributed;
using Flux2.Native;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Distributed;

/// <summary>The rendezvous store: two in-process "ranks" meet and exchange an NCCL-sized id, a missing peer gives a
/// clear timeout, a vanished peer is reported to the survivor, and the CPU collectives average exactly.</summary>
public class TcpStoreTests
{
    static ProcessGroup Group(int rank, int world, int port) => new(rank, world, rank, "127.0.0.1", port);

    static (Rendezvous, Rendezvous) JoinTwo(TimeSpan? heartbeat = null)
    {
        int port = LaunchPlan.FreePort();
        var hb = heartbeat ?? TimeSpan.FromSeconds(30);
        var r1 = Task.Run(() => Rendezvous.Join(Group(1, 2, port), TimeSpan.FromSeconds(20), hb));
        var r0 = Rendezvous.Join(Group(0, 2, port), TimeSpan.FromSeconds(20), hb);
        return (r0, r1.Result);
    }

    [Fact]
    public void TwoRanksMeetAndShareTheUniqueId()
    {
        var (r0, r1) = JoinTwo();
        var id = Enumerable.Range(0, 128).Select(i => (byte)(i * 7)).ToArray();
        var got = Task.Run(() => r1.ShareFromMain("nccl_unique_id", () =>
            throw new InvalidOperationException("only rank 0 creates")));
        var made = r0.ShareFromMain("nccl_unique_id", () => id);
        Assert.Equal(id, made);
        Assert.Equal(id, got.Result);
        var barrier = Task.Run(() => r1.Barrier("x"));
        r0.Barrier("x");
        barrier.Wait();
        r0.Completed = r1.Completed = true;   // a clean leave: both ranks' work ended normally
        var d1 = Task.Run(r1.Dispose);
        r0.Dispose();
        d1.Wait();
        Assert.Null(r0.Failure);
    }

    /// <summary>A rank that leaves without having completed (an exception unwinding its <c>using</c>) sends no goodbye:
    /// the others learn of a failure at once instead of waiting out a collective's deadline.</summary>
    [Fact]
    public void ALeaveWithoutCompletingIsAFailureForTheOthers()
    {
        var (r0, r1) = JoinTwo();
        r1.Dispose();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (r0.Failure is null && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
        Assert.Contains("rank 1 lost its connection", r0.Failure);
        r0.Dispose();
    }

    [Fact]
    public void APeerThatNeverComesTimesOutNamingIt()
    {
        int port = LaunchPlan.FreePort();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<DistributedException>(() =>
            Rendezvous.Join(Group(0, 3, port), TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(30)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Contains("rank 1 to join", e.Message);
        Assert.Contains("timed out after 2 s", e.Message);
    }

    [Fact]
    public void ARankWithoutItsMasterSaysWhereItLooked()
    {
        int port = LaunchPlan.FreePort();
        var e = Assert.Throws<DistributedException>(() =>
            Rendezvous.Join(Group(1, 2, port), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)));
        Assert.Contains($"could not reach rank 0's rendezvous store at 127.0.0.1:{port}", e.Message);
    }

    [Fact]
    public void TheStoreRefusesADuplicateRankAndAWrongWorldSize()
    {
        using var server = new TcpStoreServer(IPAddress.Loopback, 0, 2, TimeSpan.FromSeconds(30));
        using var a = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, 2, TimeSpan.FromSeconds(5));
        var dup = Assert.Throws<DistributedException>(() =>
            TcpStoreClient.Connect("127.0.0.1", server.Port, 1, 2, TimeSpan.FromSeconds(5)));
        Assert.Contains("two processes claim rank 1", dup.Message);
        var world = Assert.Throws<DistributedException>(() =>
            TcpStoreClient.Connect("127.0.0.1", server.Port, 0, 4, TimeSpan.FromSeconds(5)));
        Assert.Contains("expects WORLD_SIZE 4, rank 0 has 2", world.Message);
    }

    [Fact]
    public void AVanishedPeerIsReportedToTheOthers()
    {
        using var server = new TcpStoreServer(IPAddress.Loopback, 0, 2, TimeSpan.FromSeconds(30));
        using var r0 = TcpStoreClient.Connect("127.0.0.1", server.Port, 0, 2, TimeSpan.FromSeconds(5));
        var r1 = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, 2, TimeSpan.FromSeconds(5));
        Assert.Null(r0.Ping());
        r1.Dispose(); // like kill -9: the socket closes without a goodbye
        var e = Assert.Throws<DistributedException>(() => r0.Get("never", TimeSpan.FromSeconds(10), "a value"));
        Assert.Contains("rank 1 lost its connection", e.Message);
        Assert.Contains("rank 1", r0.Ping());
    }

    [Fact]
    public void ASilentPeerIsDeclaredFailedAfterTheHeartbeatTimeout()
    {
        using var server = new TcpStoreServer(IPAddress.Loopback, 0, 2, TimeSpan.FromSeconds(1));
        using var r0 = TcpStoreClient.Connect("127.0.0.1", server.Port, 0, 2, TimeSpan.FromSeconds(5));
        using var r1 = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, 2, TimeSpan.FromSeconds(5));
        string? news = null;
        var clock = Stopwatch.StartNew();
        while (news is null && clock.Elapsed < TimeSpan.FromSeconds(10)) { Thread.Sleep(200); news = r0.Ping(); }
        Assert.NotNull(news);
        Assert.Contains("rank 1 sent no heartbeat", news);
    }

    [Fact]
    public void TheWatchdogFiresOnceWhenAPeerDies()
    {
        using var server = new TcpStoreServer(IPAddress.Loopback, 0, 2, TimeSpan.FromSeconds(30));
        using var r0 = TcpStoreClient.Connect("127.0.0.1", server.Port, 0, 2, TimeSpan.FromSeconds(5));
        var r1 = TcpStoreClient.Connect("127.0.0.1", server.Port, 1, 2, TimeSpan.FromSeconds(5));
        var fired = new List<string>();
        using var seen = new ManualResetEventSlim();
        using (new PeerWatchdog(r0, () => null, m => { lock (fired) fired.Add(m); seen.Set(); }))
        {
            r1.Dispose();
            Assert.True(seen.Wait(TimeSpan.FromSeconds(10)), "the watchdog did not notice");
            Thread.Sleep(1500);
        }
        Assert.Single(fired);
        Assert.Contains("rank 1", fired[0]);
    }

    [Fact]
    public void StoreCollectivesAverageAndBroadcastAcrossTwoRanks()
    {
        TorchRuntime.EnsureLoaded();
        var (r0, r1) = JoinTwo();
        var deadline = new CollectiveDeadline(TimeSpan.FromSeconds(20));
        using var c0 = new StoreCollectives(r0.Store, 0, 2, deadline);
        using var c1 = new StoreCollectives(r1.Store, 1, 2, new CollectiveDeadline(TimeSpan.FromSeconds(20)));
        var a0 = new[] { tensor(new[] { 1f, 2f, 3f }), tensor(new[] { 10f }) };
        var a1 = new[] { tensor(new[] { 3f, 4f, 5f }), tensor(new[] { -10f }) };
        for (int round = 0; round < 3; round++) // rounds reuse and clean up keys
        {
            var t = Task.Run(() => c1.AllReduceMean(a1));
            c0.AllReduceMean(a0);
            t.Wait();
        }
        Assert.Equal(new[] { 2f, 3f, 4f }, a0[0].data<float>().ToArray());
        Assert.Equal(a0[0].data<float>().ToArray(), a1[0].data<float>().ToArray());
        Assert.Equal(0f, a1[1].item<float>());
        var b0 = new[] { tensor(new[] { 7f, 8f }) };
        var b1 = new[] { zeros(2) };
        var bt = Task.Run(() => c1.Broadcast(b1));
        c0.Broadcast(b0);
        bt.Wait();
        Assert.Equal(new[] { 7f, 8f }, b1[0].data<float>().ToArray());
        r0.Completed = r1.Completed = true;
        Task.WaitAll(Task.Run(r1.Dispose), Task.Run(r0.Dispose));
    }

    [Fact]
    public void AnOverdueCollectiveIsNamed()
    {
        var d = new CollectiveDeadline(TimeSpan.FromMilliseconds(50));
        Assert.Null(d.Overdue());
        d.Begin("NCCL all-reduce");
        Thread.Sleep(120);
        Assert.Contains("NCCL all-reduce did not finish within", d.Overdue());
        d.End();
        Assert.Null(d.Overdue());
    }

    [Fact]
    public void ProcessGroupComesFromTheTorchrunVariables()
    {
        var env = new Dictionary<string, string>
        {
            ["RANK"] = "3",
            ["WORLD_SIZE"] = "4",
            ["LOCAL_RANK"] = "1",
            ["MASTER_ADDR"] = "h0",
            ["MASTER_PORT"] = "29500"
        };
        var g = ProcessGroup.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Equal(new ProcessGroup(3, 4, 1, "h0", 29500), g);
        Assert.Null(ProcessGroup.FromEnvironment(_ => null));
        Assert.Null(ProcessGroup.FromEnvironment(k => k == "WORLD_SIZE" ? "1" : null));
        env.Remove("MASTER_ADDR");
        Assert.Contains("MASTER_ADDR", Assert.Throws<ArgumentException>(() =>
            ProcessGroup.FromEnvironment(k => env.GetValueOrDefault(k))).Message);
        env["MASTER_ADDR"] = "h0"; env["RANK"] = "4";
        Assert.Contains("outside 0..3", Assert.Throws<ArgumentException>(() =>
            ProcessGroup.FromEnvironment(k => env.GetValueOrDefault(k))).Message);
    }
}
