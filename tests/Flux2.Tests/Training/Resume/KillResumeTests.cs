using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training.Resume;

/// <summary>
/// <c>kill -9</c> of <c>./flux2 train</c> at seeded random moments, each followed by the same command again: with a
/// checkpoint every step and a large rank, some kills land inside a save. The run that finishes holds the LoRA an
/// uninterrupted run writes, byte for byte, and its folder keeps no temp file of an interrupted save (a state whose
/// LoRA was never written is moved to previous-&lt;time&gt;/, not deleted).
/// </summary>
[Collection(nameof(SerialTrainingCollection))]
public class KillResumeTests(ITestOutputHelper output)
{
    static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "flux2");
    const int Steps = 12;

    [Fact]
    public void KilledAtRandomMomentsThenResumedEqualsAStraightRun()
    {
        var data = TempDataset.Create();
        string straight = TestPaths.TempDir(), interrupted = TestPaths.TempDir();
        Assert.Equal(0, Train(Job(data, straight), killAfterMs: null));

        var random = new Random(20261207);
        int kills = 0;
        for (int attempt = 0; attempt < 10 && kills < 6; attempt++)
        {
            int? exit = Train(Job(data, interrupted), killAfterMs: random.Next(0, 600));
            if (exit == 0) break;
            Assert.True(exit is null, $"flux2 train exited with {exit}");
            kills++;
            var run = Path.Combine(interrupted, "tiny_lora");
            output.WriteLine($"kill {kills}: {Directory.GetFiles(run).Length} files in the run folder, "
                             + $"{Directory.GetFiles(run, "*.tmp").Length} of them temp files of a save");
        }
        Assert.True(kills >= 1, "no kill landed before the run finished");
        Assert.Equal(0, Train(Job(data, interrupted), killAfterMs: null));

        ResumeJob.AssertSameTensors(Path.Combine(straight, "tiny_lora", "tiny_lora.safetensors"),
                                    Path.Combine(interrupted, "tiny_lora", "tiny_lora.safetensors"));
        var leftovers = Directory.GetFiles(Path.Combine(interrupted, "tiny_lora"), "*.tmp",
                                           SearchOption.AllDirectories);
        Assert.True(leftovers.Length == 0, "temp files left: " + string.Join(", ", leftovers));
        foreach (var f in Directory.GetFileSystemEntries(Path.Combine(interrupted, "tiny_lora")))
            output.WriteLine("left in the run folder: " + Path.GetFileName(f));
    }

    static string Job(string data, string outDir)
    {
        var yaml = Path.Combine(outDir, "job.yaml");
        // A large rank makes each save write megabytes, so a fair share of the kills lands inside one.
        File.WriteAllText(yaml, TempDataset.Job(data, outDir, Steps).Replace("save_every: 10", "save_every: 1")
                                    .Replace("linear: 4, linear_alpha: 4", "linear: 512, linear_alpha: 512"));
        return yaml;
    }

    /// <summary>Runs the job to the end (returns its exit code) or, with <paramref name="killAfterMs"/>, kills it
    /// with SIGKILL that long after this start wrote its first checkpoint (returns null; the exit code when it ended
    /// first).</summary>
    int? Train(string yaml, int? killAfterMs)
    {
        var run = Path.Combine(Path.GetDirectoryName(yaml)!, "tiny_lora");
        string[] States() => Directory.Exists(run) ? Directory.GetFiles(run, "*.state.safetensors") : [];
        var before = States();
        var psi = new ProcessStartInfo(Cli) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "train", yaml, "--no-eval" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, d) => { if (d.Data is not null) output.WriteLine(d.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (killAfterMs is int delay)
        {
            var until = DateTime.UtcNow.AddMinutes(2);
            while (!p.HasExited && DateTime.UtcNow < until && States().All(before.Contains)) Thread.Sleep(20);
            if (!p.WaitForExit(delay))
            {
                p.Kill();
                p.WaitForExit();
                output.WriteLine($"killed after {delay} ms past the first checkpoint");
                return null;
            }
        }
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "flux2 train did not finish");
        p.WaitForExit();
        return p.ExitCode;
    }
}
