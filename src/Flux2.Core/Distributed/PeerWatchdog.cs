using System.Runtime.InteropServices;

namespace Flux2.Distributed;

/// <summary>
/// A background thread that makes a failed rank end the whole job instead of a hang. Every
/// <see cref="Interval"/> it pings the store (the ping is this rank's heartbeat, and its answer carries any peer's
/// failure), and asks <paramref name="localCheck"/> for local trouble (an overdue collective, an NCCL async error). On
/// the first problem it calls <paramref name="onFailure"/> once — by default <see cref="ExitProcess"/>: abort the
/// communicator, print which rank failed and why, and leave with exit code <see cref="ExitCode"/>. The training thread
/// may be blocked inside a CUDA wait at that moment, which is why the process exits from here.
/// </summary>
public sealed class PeerWatchdog : IDisposable
{
    public const int ExitCode = 3;
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    readonly TcpStoreClient store;
    readonly Func<string?> localCheck;
    readonly Action<string> onFailure;
    readonly CancellationTokenSource stop = new();
    readonly Thread thread;
    int fired;

    public PeerWatchdog(TcpStoreClient store, Func<string?> localCheck, Action<string> onFailure)
    {
        this.store = store; this.localCheck = localCheck; this.onFailure = onFailure;
        thread = new Thread(Loop) { IsBackground = true, Name = "flux2-peer-watchdog" };
        thread.Start();
    }

    void Loop()
    {
        while (!stop.Token.WaitHandle.WaitOne(Interval))
        {
            string? problem;
            try { problem = store.Ping() ?? localCheck(); }
            catch (Exception e) { problem = e.Message; }
            if (stop.IsCancellationRequested) return;
            if (problem is not null && Interlocked.Exchange(ref fired, 1) == 0) { onFailure(problem); return; }
        }
    }

    /// <summary>The default failure action: <paramref name="abort"/> (bounded to 10 s), a message naming this rank,
    /// then _exit — no managed shutdown, which could wait on the CUDA work that is stuck.</summary>
    public static Action<string> ExitProcess(int rank, Action? abort) => problem =>
    {
        Console.Error.WriteLine($"flux2 train: rank {rank} stops the job: {problem}");
        Console.Error.Flush();
        Console.Out.Flush();
        if (abort is not null) Task.Run(abort).Wait(TimeSpan.FromSeconds(10));
        _exit(ExitCode);
    };

    [DllImport("libc")] static extern void _exit(int status);

    public void Dispose()
    {
        stop.Cancel();
        thread.Join(TimeSpan.FromSeconds(5));
    }
}
