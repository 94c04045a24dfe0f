using System.Diagnostics;
using System.Text;
using Flux2.Lora;
using Flux2.Native;
using Flux2.Tests.Training;
using Flux2.Training.Logging;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Distributed;

/// <summary>
/// The whole <c>./flux2 train --gpus 2</c> path on CPU (ranks as real child processes, rendezvous, gradient averaging
/// through the store backend, rank-0-only outputs) on tiny-random: 2 ranks x batch 1 = 1 process x batch 2 (same
/// losses), resume with another rank count, and a killed rank ending the job with a message.
/// </summary>
public class CpuDataParallelTests(ITestOutputHelper output)
{
    static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "flux2");

    sealed record Run(int Exit, string Out, string Err, TimeSpan Took);

    Run Flux2(Action<Process>? whileRunning, params string[] args)
    {
        var psi = new ProcessStartInfo(Cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var v in new[] { "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT" })
            psi.Environment.Remove(v);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var o = new StringBuilder();
        var e = new StringBuilder();
        p.OutputDataReceived += (_, d) => { if (d.Data is not null) lock (o) o.AppendLine(d.Data); };
        p.ErrorDataReceived += (_, d) => { if (d.Data is not null) lock (e) e.AppendLine(d.Data); };
        p.BeginOutputReadLine(); p.BeginErrorReadLine();
        whileRunning?.Invoke(p);
        if (!p.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            p.Kill(true); throw new TimeoutException($"flux2 {string.Join(' ', args)} did not finish:\n{o}\n{e}");
        }
        p.WaitForExit();
        var run = new Run(p.ExitCode, o.ToString(), e.ToString(), clock.Elapsed);
        output.WriteLine($"flux2 {string.Join(' ', args)}: exit {run.Exit} in {run.Took.TotalSeconds:F1} s\n{run.Err}");
        return run;
    }

    static string Job(string data, string outDir, int batch, int steps = 6)
    {
        var yaml = Path.Combine(TestPaths.TempDir(), $"job-b{batch}.yaml");
        File.WriteAllText(yaml, TempDataset.Job(data, outDir, steps).Replace("batch_size: 2", $"batch_size: {batch}"));
        return yaml;
    }

    static double[] Losses(string outDir)
    {
        using var log = RunLog.Open(Path.Combine(outDir, "tiny_lora"));
        return log.Steps().Loss;
    }

    [Fact]
    public void TwoRanksOfBatchOneTrainLikeOneProcessOfBatchTwo()
    {
        var data = TempDataset.Create();
        string single = TestPaths.TempDir(), pair = TestPaths.TempDir();
        var a = Flux2(null, "train", Job(data, single, 2), "--no-eval");
        Assert.True(a.Exit == 0, a.Err);
        var b = Flux2(null, "train", Job(data, pair, 1), "--gpus", "2", "--no-eval");
        Assert.True(b.Exit == 0, b.Err + b.Out);
        Assert.Contains("launching 2 rank(s)", b.Out);
        Assert.Contains("collectives store", b.Out);

        var one = Losses(single);
        var two = Losses(pair);
        output.WriteLine("step  1 process x batch 2   2 ranks x batch 1");
        for (int i = 0; i < one.Length; i++) output.WriteLine($"{i + 1,4}  {one[i],20:F7}  {two[i],18:F7}");
        Assert.Equal(6, one.Length);
        Assert.Equal(6, two.Length);
        double maxDiff = one.Zip(two, (x, y) => Math.Abs(x - y)).Max();
        output.WriteLine($"max |loss difference| {maxDiff:E2}");
        Assert.True(maxDiff < 1e-4, $"loss curves differ by {maxDiff}");
        Assert.True(one.Distinct().Count() > 1, "the loss must change over steps (else the comparison proves nothing)");

        // Same trained weights, written by rank 0 alone.
        TorchRuntime.EnsureLoaded();
        var wa = LoraFile.Read(Path.Combine(single, "tiny_lora", "tiny_lora.safetensors")).ToDictionary(u => u.Module);
        var wb = LoraFile.Read(Path.Combine(pair, "tiny_lora", "tiny_lora.safetensors")).ToDictionary(u => u.Module);
        Assert.Equal(wa.Keys.Order(), wb.Keys.Order());
        double weightDiff = wa.Keys.Max(k => Math.Max((wa[k].Down - wb[k].Down).abs().max().item<float>(),
            (wa[k].Up - wb[k].Up).abs().max().item<float>()));
        output.WriteLine($"max |LoRA weight difference| {weightDiff:E2}");
        Assert.True(weightDiff < 1e-4, $"LoRA weights differ by {weightDiff}");
    }

    [Fact]
    public void TwoHostsAreTwoLaunchersThatMeetAtTheMasterAddress()
    {
        // The multi-host form, as two process groups on one host: node 0 and node 1 with one rank each.
        var data = TempDataset.Create();
        string single = TestPaths.TempDir(), hosts = TestPaths.TempDir();
        Assert.Equal(0, Flux2(null, "train", Job(data, single, 2), "--no-eval").Exit);
        var job = Job(data, hosts, 1);
        var port = global::Flux2.Distributed.LaunchPlan.FreePort().ToString();
        string[] Node(int rank) => new[] { "train", job, "--gpus", "1", "--nnodes", "2", "--node-rank", rank.ToString(),
                                           "--master-addr", "127.0.0.1", "--master-port", port, "--no-eval" };
        var node1 = Task.Run(() => Flux2(null, Node(1)));
        var node0 = Flux2(null, Node(0));
        Assert.True(node0.Exit == 0, node0.Err);
        Assert.True(node1.Result.Exit == 0, node1.Result.Err);
        Assert.Contains("node 0 of 2, world size 2", node0.Out);
        Assert.Equal(6, Losses(single).Length);
        Assert.Equal(6, Losses(hosts).Length);
        double maxDiff = Losses(single).Zip(Losses(hosts), (x, y) => Math.Abs(x - y)).Max();
        output.WriteLine($"two launchers vs one process x batch 2: max |loss difference| {maxDiff:E2}");
        Assert.True(maxDiff < 1e-4, $"loss curves differ by {maxDiff}");
        Assert.Contains("saved", node0.Out);
        Assert.DoesNotContain("saved", node1.Result.Out); // rank 1 neither reports nor saves
    }

    [Fact]
    public void AResumeOnAnotherRankCountContinuesTheSameRun()
    {
        var data = TempDataset.Create();
        string straight = TestPaths.TempDir(), split = TestPaths.TempDir();
        Assert.Equal(0, Flux2(null, "train", Job(data, straight, 2, steps: 8), "--no-eval").Exit);
        // 4 steps on 2 ranks x batch 1, then 4 more in one process x batch 2: the same global batch of 2.
        Assert.Equal(0, Flux2(null, "train", Job(data, split, 1, steps: 4), "--gpus", "2", "--no-eval").Exit);
        var resumed = Flux2(null, "train", Job(data, split, 2, steps: 8), "--no-eval");
        Assert.Equal(0, resumed.Exit);
        Assert.Contains("resuming from step 4", resumed.Out);
        var a = Losses(straight);
        var b = Losses(split);
        Assert.Equal(8, a.Length);
        Assert.Equal(8, b.Length);
        double maxDiff = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
        output.WriteLine($"straight vs 2 ranks then 1 process: max |loss difference| {maxDiff:E2}");
        Assert.True(maxDiff < 1e-4, $"loss curves differ by {maxDiff}");
    }

    [Fact]
    public void KillingOneRankEndsTheJobWithAMessageAndTheRunResumes()
    {
        var data = TempDataset.Create();
        var outDir = TestPaths.TempDir();
        var yaml = Job(data, outDir, 1, steps: 100000);
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("save_every: 10", "save_every: 5"));
        int killed = -1;
        var killedAt = Stopwatch.StartNew();
        var run = Flux2(p =>
        {
            // wait for a checkpoint, then kill -9 rank 1
            var run = Path.Combine(outDir, "tiny_lora");
            var until = DateTime.UtcNow.AddMinutes(2);
            while (DateTime.UtcNow < until && !(Directory.Exists(run) && Directory.GetFiles(run, "*.state.safetensors")
                .Length > 0)) Thread.Sleep(100);
            killed = RankPid(p.Id, 1);
            Process.GetProcessById(killed).Kill();
            killedAt.Restart();
        }, "train", yaml, "--gpus", "2", "--no-eval");
        var took = killedAt.Elapsed;
        output.WriteLine($"job ended {took.TotalSeconds:F1} s after kill -9 of rank 1 (pid {killed})");
        Assert.Equal(137, run.Exit);
        Assert.True(took < TimeSpan.FromSeconds(60), $"took {took}");
        Assert.Contains($"rank 1 (pid {killed}) was killed by signal 9 (SIGKILL); stopping the other ranks", run.Err);

        var again = Flux2(null, "train", Job(data, outDir, 1, steps: 12), "--gpus", "2", "--no-eval");
        Assert.True(again.Exit == 0, again.Err);
        Assert.Matches(@"resuming from step \d+", again.Out);
    }

    /// <summary>The pid of the launcher child with RANK=<paramref name="rank"/> (from /proc).</summary>
    static int RankPid(int launcher, int rank)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                if (ppid == launcher && File.ReadAllText(Path.Combine(dir, "environ")).Split('\0')
                    .Contains($"RANK={rank}")) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException($"no child of {launcher} with RANK={rank}");
    }
}
