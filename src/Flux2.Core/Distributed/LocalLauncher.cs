using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Flux2.Distributed;

/// <summary>
/// Starts this host's ranks of a data-parallel job as child processes (the role of torchrun): each gets its
/// <see cref="LaunchPlan.Environment"/>; local rank 0's output is streamed as is (progress bars included), the other
/// ranks' error output is printed with a "[rank k]" prefix, their normal output dropped (rank 0 alone reports).
/// The first child that fails — any exit code but 0 and 130 (130: stopped on Ctrl-C after its checkpoint) — makes
/// the launcher stop the others (SIGTERM, then SIGKILL after <see cref="StopGrace"/>) and return that code with a
/// message naming the rank, so a dead rank never leaves the job hanging.
/// </summary>
public sealed class LocalLauncher(LaunchPlan plan, TextWriter output, TextWriter error, string command = "flux2 train",
    string? afterFailure = "Run the same command again to resume from the last checkpoint.")
{
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    public const int Interrupted = 130;

    sealed record Child(int LocalRank, int Rank, Process Process, Thread[] Pumps);

    /// <summary>Runs <paramref name="fileName"/> <paramref name="arguments"/> once per local rank and waits for
    /// all.</summary>
    public int Run(string fileName, IReadOnlyList<string> arguments)
    {
        plan.Validate();
        var children = new List<Child>();
        try
        {
            for (int local = 0; local < plan.ProcsPerNode; local++) children.Add(Start(fileName, arguments, local));
            return Supervise(children);
        }
        finally
        {
            foreach (var c in children)
            {
                if (!c.Process.HasExited) Kill(c.Process);
                foreach (var t in c.Pumps) t.Join(TimeSpan.FromSeconds(2));
                c.Process.Dispose();
            }
        }
    }

    Child Start(string fileName, IReadOnlyList<string> arguments, int local)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false
        };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        foreach (var (k, v) in plan.Environment(local)) psi.Environment[k] = v;
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        int rank = plan.GlobalRank(local);
        var pumps = local == 0
            ? new[] { Pump(p.StandardOutput, output, null), Pump(p.StandardError, error, null) }
            : new[] { Pump(p.StandardOutput, TextWriter.Null, null), Pump(p.StandardError, error, $"[rank {rank}] ") };
        return new Child(local, rank, p, pumps);
    }

    /// <summary>Copies a child's stream: raw characters when <paramref name="prefix"/> is null (keeps \r progress
    /// lines), else line by line with the prefix.</summary>
    static Thread Pump(StreamReader from, TextWriter to, string? prefix)
    {
        var t = new Thread(() =>
        {
            try
            {
                if (prefix is null)
                {
                    var buffer = new char[4096];
                    int n;
                    while ((n = from.Read(buffer, 0, buffer.Length)) > 0) lock
                        (to) { to.Write(buffer, 0, n); to.Flush(); }
                }
                else
                    while (from.ReadLine() is { } line) lock (to) { to.WriteLine(prefix + line); to.Flush(); }
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
        })
        { IsBackground = true, Name = "launcher-pump" };
        t.Start();
        return t;
    }

    int Supervise(List<Child> children)
    {
        while (true)
        {
            var failed = children.FirstOrDefault(c => c.Process.HasExited
                && c.Process.ExitCode is not (0 or Interrupted));
            if (failed is not null)
            {
                // A rank that stopped because it saw a peer fail may exit before the launcher has seen the peer's own
                // exit (its watchdog reacts to a lost connection in milliseconds): report the rank that failed first.
                if (failed.Process.ExitCode == PeerWatchdog.ExitCode) failed =
                    FirstCause(children, TimeSpan.FromSeconds(2)) ?? failed;
                var clock = Stopwatch.StartNew();
                Say($"{command}: rank {failed.Rank} (pid {failed.Process.Id}) {Describe(failed.Process.ExitCode)}; " +
                    $"stopping the other ranks");
                StopAll(children.Where(c => c != failed && !c.Process.HasExited).ToList());
                Say($"{command}: job stopped {clock.Elapsed.TotalSeconds:F1} s after rank {failed.Rank} failed." +
                    (afterFailure is null ? "" : " " + afterFailure));
                return failed.Process.ExitCode is > 0 and < 256 ? failed.Process.ExitCode : 1;
            }
            if (children.All(c => c.Process.HasExited))
            {
                foreach (var c in children) foreach (var t in c.Pumps) t.Join(TimeSpan.FromSeconds(5));
                return children.Any(c => c.Process.ExitCode == Interrupted) ? Interrupted : 0;
            }
            Thread.Sleep(100);
        }
    }

    /// <summary>A child that failed on its own (not with the watchdog's code), waiting up to <paramref name="grace"/>
    /// for one to exit; null if none did.</summary>
    static Child? FirstCause(List<Child> children, TimeSpan grace)
    {
        var until = DateTime.UtcNow + grace;
        while (true)
        {
            var cause = children.FirstOrDefault(c => c.Process.HasExited
                && c.Process.ExitCode is not (0 or Interrupted or PeerWatchdog.ExitCode));
            if (cause is not null || DateTime.UtcNow >= until) return cause;
            Thread.Sleep(20);
        }
    }

    void StopAll(List<Child> running)
    {
        foreach (var c in running) kill(c.Process.Id, 15);
        var until = DateTime.UtcNow + StopGrace;
        while (running.Any(c => !c.Process.HasExited) && DateTime.UtcNow < until) Thread.Sleep(50);
        foreach (var c in running.Where(c => !c.Process.HasExited)) Kill(c.Process);
        foreach (var c in running) c.Process.WaitForExit(5000);
    }

    static void Kill(Process p)
    {
        try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
    }

    /// <summary>Exit codes above 128 are how .NET reports a child ended by a signal (128 + signal number).</summary>
    public static string Describe(int exitCode) => exitCode switch
    {
        > 128 and < 160 => $"was killed by signal {exitCode - 128}{SignalNameSuffix(exitCode - 128)}",
        PeerWatchdog.ExitCode => $"exited with code {exitCode} (it saw a peer rank fail)",
        _ => $"exited with code {exitCode}",
    };

    static string SignalNameSuffix(int signal) => signal switch
    {
        9 => " (SIGKILL)",
        15 => " (SIGTERM)",
        6 => " (SIGABRT)",
        _ => "",
    };

    void Say(string line) { lock (error) { error.WriteLine(); error.WriteLine(line); error.Flush(); } }

    [DllImport("libc")] static extern int kill(int pid, int sig);
}
