using System.Net.Sockets;
using System.Text;

namespace Flux2.Distributed;

/// <summary>
/// One rank's connection to <see cref="TcpStoreServer"/>. Thread-safe (the training thread and the watchdog share it);
/// every request is short, so waiting for a key is a poll loop that also checks the server's failure news — a rank
/// waiting for a peer that died gets the reason instead of a hang.
/// </summary>
public sealed class TcpStoreClient : IDisposable
{
    readonly object gate = new();
    readonly TcpClient tcp;
    readonly NetworkStream stream;
    readonly string endpoint;
    public int Rank { get; }

    TcpStoreClient(TcpClient tcp, string endpoint, int rank)
    {
        this.tcp = tcp; this.endpoint = endpoint; Rank = rank;
        stream = tcp.GetStream();
    }

    /// <summary>Connects (retrying while rank 0 starts its server) and registers as <paramref name="rank"/>.</summary>
    public static TcpStoreClient Connect(string host, int port, int rank, int worldSize, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < until)
        {
            var tcp = new TcpClient { NoDelay = true };
            try
            {
                var left = until - DateTime.UtcNow;
                if (!tcp.ConnectAsync(host, port).Wait(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1)))
                    throw new TimeoutException("connect timed out");
                var client = new TcpStoreClient(tcp, $"{host}:{port}", rank);
                var (status, reply) = client.Request(StoreProtocol.Op.Hello, $"{rank} {worldSize}", default);
                if (status != StoreProtocol.Status.Ok)
                {
                    client.Dispose();
                    throw new DistributedException($"rank {rank}: the rendezvous store at {host}:{port} refused this " +
                        $"rank: {Encoding.UTF8.GetString(reply)}");
                }
                return client;
            }
            catch (DistributedException) { throw; }
            catch (Exception e)
            {
                tcp.Dispose();
                last = e is AggregateException { InnerException: { } inner } ? inner : e;
                Thread.Sleep(100);
            }
        }
        throw new DistributedException($"rank {rank}: could not reach rank 0's rendezvous store at {host}:{port} " +
            $"within " +
            $"{timeout.TotalSeconds:F0} s ({last?.Message ?? "timed out"}). Is rank 0 " +
            $"running, and are MASTER_ADDR/--master-addr and the port reachable from this host?");
    }

    public void Set(string key, ReadOnlySpan<byte> value) => Expect(StoreProtocol.Op.Set, key, value);
    public void Delete(string key) => Expect(StoreProtocol.Op.Delete, key, default);

    public byte[]? TryGet(string key)
    {
        var (status, value) = Request(StoreProtocol.Op.TryGet, key, default);
        return status == StoreProtocol.Status.Ok ? value : null;
    }

    /// <summary>Waits for <paramref name="key"/>; throws naming <paramref name="waitingFor"/> when it does not come in
    /// time or when the store reports a failed rank meanwhile.</summary>
    public byte[] Get(string key, TimeSpan timeout, string waitingFor)
    {
        var until = DateTime.UtcNow + timeout;
        var pause = TimeSpan.FromMilliseconds(0.2);
        long polls = 0;
        while (true)
        {
            if (TryGet(key) is { } value) return value;
            if (++polls % 64 == 0 && Ping() is { } failure) throw new DistributedException($"rank {Rank}: {failure}");
            if (DateTime.UtcNow > until)
                throw new DistributedException($"rank {Rank}: timed out after " +
                    $"{timeout.TotalSeconds:F0} s waiting for {waitingFor}");
            Thread.Sleep(pause);
            if (pause < TimeSpan.FromMilliseconds(20)) pause *= 2;
        }
    }

    /// <summary>Heartbeat; returns the store's failure news (a peer gone) or null while all is well.</summary>
    public string? Ping()
    {
        var (_, value) = Request(StoreProtocol.Op.Ping, "", default);
        return value.Length == 0 ? null : Encoding.UTF8.GetString(value);
    }

    /// <summary>Tells the store this rank ends cleanly (its closing connection is then no failure).</summary>
    public void Goodbye()
    {
        try { Request(StoreProtocol.Op.Bye, "", default); } catch (DistributedException) { }
    }

    void Expect(StoreProtocol.Op op, string key, ReadOnlySpan<byte> value)
    {
        var (status, reply) = Request(op, key, value);
        if (status != StoreProtocol.Status.Ok)
            throw new DistributedException($"rank {Rank}: store {op} '{key}' failed: {Encoding.UTF8.GetString(reply)}");
    }

    (StoreProtocol.Status, byte[]) Request(StoreProtocol.Op op, string key, ReadOnlySpan<byte> value)
    {
        lock (gate)
        {
            try
            {
                StoreProtocol.WriteRequest(stream, op, key, value);
                return StoreProtocol.ReadReply(stream);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or
                EndOfStreamException)
            {
                throw new DistributedException($"rank {Rank}: lost the connection to rank 0's rendezvous store at " +
                    $"{endpoint} (rank 0 ended or its host is unreachable)", e);
            }
        }
    }

    public void Dispose() => tcp.Dispose();
}
