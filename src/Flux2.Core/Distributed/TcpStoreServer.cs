using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Flux2.Distributed;

/// <summary>
/// The key-value store rank 0 hosts for rendezvous (the NCCL unique id, barriers) and liveness: every rank keeps one
/// connection open and pings it; a connection that drops without a goodbye, or a rank silent for longer than
/// <paramref name="heartbeatTimeout"/>, marks that rank failed, and every later ping of the others is answered with
/// that failure — so a killed peer is noticed within a ping interval, even when the survivors sit inside an NCCL
/// collective. (torch.distributed's TCPStore plays the same role for torchrun.)
/// </summary>
public sealed class TcpStoreServer : IDisposable
{
    readonly TcpListener listener;
    readonly int worldSize;
    readonly TimeSpan heartbeatTimeout;
    readonly ConcurrentDictionary<string, byte[]> values = new();
    readonly ConcurrentDictionary<int, DateTime> lastSeen = new();
    readonly ConcurrentDictionary<int, bool> finished = new();
    readonly List<TcpClient> connections = new();
    readonly CancellationTokenSource stop = new();
    volatile string? failure;

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;
    /// <summary>The first failure seen (a rank gone or silent), or null.</summary>
    public string? Failure => failure;

    public TcpStoreServer(IPAddress address, int port, int worldSize, TimeSpan heartbeatTimeout)
    {
        this.worldSize = worldSize;
        this.heartbeatTimeout = heartbeatTimeout;
        listener = new TcpListener(address, port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try { listener.Start(); }
        catch (SocketException e)
        {
            throw new DistributedException($"rank 0 could not listen on {address}:{port} for the rendezvous store: " +
                $"{e.Message} (is another job using the port? choose one with --master-port)");
        }
        new Thread(AcceptLoop) { IsBackground = true, Name = "store-accept" }.Start();
        new Thread(WatchSilence) { IsBackground = true, Name = "store-heartbeats" }.Start();
    }

    /// <summary>True once every rank has said goodbye (a clean end).</summary>
    public bool AllFinished => finished.Count == worldSize;

    void AcceptLoop()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = listener.AcceptTcpClient(); }
            catch { return; }
            lock (connections) connections.Add(client);
            new Thread(() => Serve(client)) { IsBackground = true, Name = "store-conn" }.Start();
        }
    }

    void Serve(TcpClient client)
    {
        int rank = -1;
        bool said_bye = false;
        try
        {
            client.NoDelay = true;
            var s = client.GetStream();
            while (!stop.IsCancellationRequested)
            {
                var (op, key, value) = StoreProtocol.ReadRequest(s);
                if (rank >= 0) lastSeen[rank] = DateTime.UtcNow;
                switch (op)
                {
                    case StoreProtocol.Op.Hello:
                        var error = Hello(key, ref rank);
                        StoreProtocol.WriteReply(s, error is null ? StoreProtocol.Status.Ok
                            : StoreProtocol.Status.Error, Encoding.UTF8.GetBytes(error ?? ""));
                        if (error is not null) return;
                        break;
                    case StoreProtocol.Op.Set:
                        values[key] = value;
                        StoreProtocol.WriteReply(s, StoreProtocol.Status.Ok, default);
                        break;
                    case StoreProtocol.Op.TryGet:
                        if (values.TryGetValue(key, out var v)) StoreProtocol.WriteReply(s, StoreProtocol.Status.Ok, v);
                        else StoreProtocol.WriteReply(s, StoreProtocol.Status.Missing, default);
                        break;
                    case StoreProtocol.Op.Delete:
                        values.TryRemove(key, out _);
                        StoreProtocol.WriteReply(s, StoreProtocol.Status.Ok, default);
                        break;
                    case StoreProtocol.Op.Ping:
                        StoreProtocol.WriteReply(s, StoreProtocol.Status.Ok, Encoding.UTF8.GetBytes(failure ?? ""));
                        break;
                    case StoreProtocol.Op.Bye:
                        said_bye = true;
                        if (rank >= 0) finished[rank] = true;
                        StoreProtocol.WriteReply(s, StoreProtocol.Status.Ok, default);
                        return;
                    default:
                        throw new InvalidDataException($"unknown store op {(byte)op}");
                }
            }
        }
        catch (Exception) when (stop.IsCancellationRequested) { }
        catch (Exception e)
        {
            if (rank >= 0 && !said_bye)
                Fail($"rank {rank} lost its connection to the rendezvous store ({Short(e)}): the process ended or " +
                    $"its host is unreachable");
        }
        finally { client.Dispose(); }
    }

    string? Hello(string key, ref int rank)
    {
        var parts = key.Split(' ');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var r) || !int.TryParse(parts[1], out var world))
            return $"malformed hello '{key}'";
        if (world != worldSize) return $"rank {r} expects WORLD_SIZE {world}, rank 0 has {worldSize}";
        if (r < 0 || r >= worldSize) return $"rank {r} is outside 0..{worldSize - 1}";
        if (!lastSeen.TryAdd(r, DateTime.UtcNow))
            return $"two processes claim rank {r} (check --node-rank on each host)";
        rank = r;
        return null;
    }

    void WatchSilence()
    {
        while (!stop.IsCancellationRequested)
        {
            Thread.Sleep(500);
            foreach (var (rank, seen) in lastSeen)
                if (!finished.ContainsKey(rank) && DateTime.UtcNow - seen > heartbeatTimeout)
                    Fail($"rank {rank} sent no heartbeat for {heartbeatTimeout.TotalSeconds:F0} s " +
                        "(hung, stopped, or its host is down)");
        }
    }

    void Fail(string message) => Interlocked.CompareExchange(ref failure, message, null);

    static string Short(Exception e) => e is EndOfStreamException ? "connection closed" : e.Message;

    /// <summary>Waits up to <paramref name="timeout"/> for every rank to say goodbye, so none loses the store
    /// mid-exit.</summary>
    public void WaitForGoodbyes(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!AllFinished && failure is null && DateTime.UtcNow < until) Thread.Sleep(20);
    }

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
        lock (connections) foreach (var c in connections) c.Dispose();
    }
}

/// <summary>A data-parallel job cannot go on: a peer is gone, rendezvous failed, or a collective timed out.</summary>
public sealed class DistributedException(string message, Exception? inner = null) : Exception(message, inner);
