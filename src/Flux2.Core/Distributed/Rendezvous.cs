using System.Net;
using System.Text;

namespace Flux2.Distributed;

/// <summary>
/// How the ranks of a job find each other (the role of torch.distributed's init_process_group with a TCPStore): rank 0
/// hosts a <see cref="TcpStoreServer"/> on MASTER_ADDR:MASTER_PORT, every rank connects to it, and all wait until the
/// whole world has arrived. Values that one rank makes and all need — NCCL's 128-byte unique id — go through it
/// with
/// <see cref="ShareFromMain"/>. Timeouts name the ranks that never came.
/// </summary>
public sealed class Rendezvous : IDisposable
{
    public const string TimeoutEnv = "FLUX2_RENDEZVOUS_TIMEOUT";
    public const string HeartbeatTimeoutEnv = "FLUX2_HEARTBEAT_TIMEOUT";

    readonly TcpStoreServer? server;
    readonly Dictionary<string, int> barrierRounds = new();
    public ProcessGroup Group { get; }
    public TcpStoreClient Store { get; }
    public TimeSpan Timeout { get; }

    Rendezvous(ProcessGroup group, TcpStoreServer? server, TcpStoreClient store, TimeSpan timeout)
    {
        Group = group; this.server = server; Store = store; Timeout = timeout;
    }

    static readonly TimeSpan LocalConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Starts (rank 0) or reaches the store, then waits for all ranks. <paramref name="heartbeatTimeout"/>:
    /// how long a rank may stay silent before the store declares it failed.</summary>
    public static Rendezvous Join(ProcessGroup group, TimeSpan timeout, TimeSpan heartbeatTimeout)
    {
        var server = group.IsMain ? new TcpStoreServer(BindAddress(group.MasterAddr), group.MasterPort,
            group.WorldSize, heartbeatTimeout) : null;
        TcpStoreClient? store = null;
        try
        {
            // Rank 0 reaches its own in-process server: that cannot be late, only slow on a loaded machine, so it gets
            // at least LocalConnectTimeout; the join timeout is for the other ranks.
            var connectTimeout = server is null ? timeout : (timeout > LocalConnectTimeout ? timeout
                : LocalConnectTimeout);
            store = TcpStoreClient.Connect(group.MasterAddr, server?.Port ?? group.MasterPort, group.Rank,
                group.WorldSize, connectTimeout);
            var r = new Rendezvous(group, server, store, timeout);
            r.Barrier("join", "join");
            return r;
        }
        catch
        {
            store?.Dispose();
            server?.Dispose();
            throw;
        }
    }

    /// <summary>Timeouts from FLUX2_RENDEZVOUS_TIMEOUT (default 300 s: ranks on other hosts may start late) and
    /// FLUX2_HEARTBEAT_TIMEOUT (default 30 s).</summary>
    public static Rendezvous Join(ProcessGroup group)
        => Join(group, Seconds(TimeoutEnv, 300), Seconds(HeartbeatTimeoutEnv, 30));

    /// <summary>Rank 0 runs <paramref name="create"/> and publishes the bytes under <paramref name="key"/>; the others
    /// wait for them.</summary>
    public byte[] ShareFromMain(string key, Func<byte[]> create)
    {
        if (Group.IsMain)
        {
            var value = create();
            Store.Set("shared/" + key, value);
            return value;
        }
        return Store.Get("shared/" + key, Timeout, $"rank 0 to publish '{key}'");
    }

    /// <summary>Returns once every rank has reached the barrier <paramref name="name"/> (each use is a new
    /// round).</summary>
    public void Barrier(string name, string what = "reach", TimeSpan? timeout = null)
    {
        int round = barrierRounds.TryGetValue(name, out var n) ? n + 1 : 0;
        barrierRounds[name] = round;
        var prefix = $"barrier/{name}/{round}/";
        Store.Set(prefix + Group.Rank, Encoding.UTF8.GetBytes("1"));
        for (int r = 0; r < Group.WorldSize; r++)
            Store.Get(prefix + r, timeout ?? Timeout, what == "join"
                ? $"rank {r} to join (is it started, with the same MASTER_ADDR/MASTER_PORT and " +
                    $"WORLD_SIZE {Group.WorldSize}?)"
                : $"rank {r} to {what} '{name}'");
    }

    /// <summary>Any rank failure the store knows of, or null.</summary>
    public string? Failure => server?.Failure;

    static IPAddress BindAddress(string masterAddr)
    {
        if (masterAddr is "localhost") return IPAddress.Loopback;
        if (IPAddress.TryParse(masterAddr, out var ip)) return IPAddress.IsLoopback(ip) ? ip : IPAddress.Any;
        return IPAddress.Any; // a host name other ranks resolve to this machine
    }

    static TimeSpan Seconds(string env, double fallback)
    {
        var v = Environment.GetEnvironmentVariable(env);
        if (string.IsNullOrEmpty(v)) return TimeSpan.FromSeconds(fallback);
        return double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : throw new UserError($"{env} must be a number of seconds > 0, got '{v}'");
    }

    /// <summary>Set once this rank's work ended normally; only then does <see cref="Dispose"/> say goodbye.</summary>
    public bool Completed { get; set; }

    /// <summary>A clean leave says goodbye, and rank 0 waits briefly for the others' goodbyes before closing the store.
    /// A rank leaving on an exception closes its connection without a goodbye, which the store reports to the other
    /// ranks as a failure at once (rather than them waiting out a collective's deadline).</summary>
    public void Dispose()
    {
        if (Completed)
        {
            Store.Goodbye();
            server?.WaitForGoodbyes(TimeSpan.FromSeconds(30));
        }
        Store.Dispose();
        server?.Dispose();
    }
}
