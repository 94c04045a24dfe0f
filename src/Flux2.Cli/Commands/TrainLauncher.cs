using System.Reflection;
using Flux2.Distributed;

namespace Flux2.Cli.Commands;

/// <summary>
/// <c>./flux2 train job.yaml --gpus N [--nnodes K --node-rank R --master-addr H --master-port P]</c>: starts this
/// host's N ranks as children running the same command without these options (docs/multi-gpu.md). One host picks a free
/// port on 127.0.0.1 unless told otherwise; several hosts must agree on --master-addr/--master-port (rank 0's host).
/// </summary>
public static class TrainLauncher
{
    public const string Help = """
          --gpus N            data-parallel training on N GPUs of this host: one process per GPU (cuda:0..N-1),
                              gradients averaged with NCCL, global batch = train.batch_size x ranks, rank 0 alone
                              logs/samples/saves. A failed rank stops the job (exit code of that rank) and the command
                              resumes like any run.
          --nnodes K --node-rank R --master-addr HOST --master-port PORT
                              the same job over K hosts: run the command on each host with its --node-rank (0..K-1);
                              HOST:PORT is node 0's address, where rank 0 hosts the rendezvous store.
                              See docs/multi-gpu.md.
        """;

    /// <summary>The launch plan when the options ask for one, else null (a plain single-process run).</summary>
    public static LaunchPlan? Plan(CliArgs args)
    {
        int gpus = args.Int("gpus", 0), nodes = args.Int("nnodes", 1), nodeRank = args.Int("node-rank", 0);
        var addr = args.Get("master-addr");
        var port = args.Get("master-port");
        if (gpus == 0 && nodes == 1 && addr is null && port is null && nodeRank == 0) return null;
        if (gpus < 1)
            throw new UserError("train: --nnodes/--node-rank/--master-addr/--master-port need " +
                "--gpus N (processes on this host)");
        if (nodes > 1 && addr is null)
            throw new UserError("train: with --nnodes > 1 every host needs --master-addr (node " +
                "0's address) and --master-port");
        int p = port is null ? (nodes == 1 ? LaunchPlan.FreePort() : 29500)
            : int.TryParse(port, out var n) ? n
                : throw new UserError($"train: --master-port must be a port number, got '{port}'");
        var plan = new LaunchPlan(gpus, nodes, nodeRank, addr ?? "127.0.0.1", p);
        try { plan.Validate(); } catch (ArgumentException e) { throw new UserError("train: " + e.Message); }
        return plan;
    }

    /// <summary>Runs <paramref name="childArgs"/> (a train command line without launcher options) once per local
    /// rank.</summary>
    public static int Launch(LaunchPlan plan, IReadOnlyList<string> childArgs, TextWriter o,
                             string command = "flux2 train",
                             string? afterFailure = "Run the same command again to resume from the last checkpoint.")
    {
        o.WriteLine($"launching {plan.ProcsPerNode} rank(s) on this host (node {plan.NodeRank} of {plan.Nodes}, " +
            $"world size {plan.WorldSize}, store {plan.MasterAddr}:{plan.MasterPort})");
        var (file, prefix) = Self();
        // Ctrl-C reaches the children directly (same terminal process group); they agree to stop and rank 0 saves.
        ConsoleCancelEventHandler keep = (_, e) => e.Cancel = true;
        Console.CancelKeyPress += keep;
        try
        {
            return new LocalLauncher(plan, o, Console.Error, command, afterFailure)
            .Run(file, prefix.Concat(childArgs).ToList());
        }
        finally { Console.CancelKeyPress -= keep; }
    }

    /// <summary>This program: the apphost, or <c>dotnet flux2.dll</c> when started through the dotnet host (GPU
    /// bundle).</summary>
    static (string file, string[] prefix) Self()
    {
        var process = Environment.ProcessPath
            ?? throw new InvalidOperationException("cannot tell which program is running");
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
            return (process, new[] { Assembly.GetEntryAssembly()!.Location });
        return (process, Array.Empty<string>());
    }
}
