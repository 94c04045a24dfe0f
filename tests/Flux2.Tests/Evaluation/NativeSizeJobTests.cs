using System.Diagnostics;
using Flux2.Data.Synthetic;
using Flux2.Tests.Training.Resume;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Evaluation;

/// <summary>A micro job that says nothing about sizes trains and evaluates at the model's native 128², not at
/// ai-toolkit's 512²: <c>./flux2 train</c> of 12 steps on 8 images, end-of-run evaluation included, within 2 minutes
/// and 4 GB peak resident memory of the child process.</summary>
[Collection(nameof(SerialTrainingCollection))]
public class NativeSizeJobTests(ITestOutputHelper output)
{
    static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "flux2");

    [MicroModelFact]
    public void AJobWithoutSampleOrResolutionTrainsAndEvaluatesAtNativeSizeQuickly()
    {
        var root = TestPaths.TempDir();
        var data = Path.Combine(root, "data");
        DatasetFolderWriter.Write(SampleDatasetKind.Style, data, count: 8, seed: 1, size: 128);
        var yaml = Path.Combine(root, "job.yaml");
        File.WriteAllText(yaml, $"""
            job: extension
            config:
              name: native
              process:
                - type: sd_trainer
                  training_folder: {root}
                  device: cpu
                  trigger_word: {SampleDatasets.StyleTrigger}
                  network: {"{"}type: lora, linear: 4, linear_alpha: 4{"}"}
                  datasets:
                    - folder_path: {data}
                  train: {"{"}steps: 12, lr: 0.001{"}"}
                  model: {"{"}name_or_path: flux2-micro{"}"}
            """);
        var psi = new ProcessStartInfo(Cli) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "train", yaml }) psi.ArgumentList.Add(a);
        var log = new System.Text.StringBuilder();
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, d) => { if (d.Data is not null) lock (log) log.AppendLine(d.Data); };
        p.ErrorDataReceived += (_, d) => { if (d.Data is not null) lock (log) log.AppendLine(d.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        long peakKb = 0;
        while (!p.WaitForExit(100))
        {
            peakKb = Math.Max(peakKb, PeakResidentKb(p.Id));
            if (clock.Elapsed > TimeSpan.FromMinutes(4)) { p.Kill(); break; }
        }
        p.WaitForExit();
        var seconds = clock.Elapsed.TotalSeconds;
        var text = log.ToString();
        output.WriteLine(string.Join('\n', text.Split('\n').Where(l => !l.Contains("[#") && !l.Contains("[."))));
        output.WriteLine($"{seconds:F1} s, peak resident {peakKb / 1024.0:F0} MiB");
        Assert.True(p.HasExited && p.ExitCode == 0, $"exit {(p.HasExited ? p.ExitCode : -1)}");
        Assert.Contains("width 128 (model default), height 128 (model default)", text);
        Assert.Contains("datasets[0].resolution [128] (model default)", text);
        Assert.Contains("seeds, 128x128, 20 steps, guidance 2", text); // the end-of-run evaluation
        Assert.True(File.Exists(Path.Combine(root, "native", "eval.json")));
        Assert.True(seconds <= 120, $"train + eval took {seconds:F0} s (limit 120 s)");
        Assert.True(peakKb > 0 && peakKb <= 4L << 20, $"peak resident {peakKb / 1024} MiB (limit 4096 MiB)");
    }

    /// <summary>VmHWM of /proc/&lt;pid&gt;/status: the process's peak resident set so far (0 once it is
    /// gone).</summary>
    static long PeakResidentKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:"))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        }
        catch (IOException) { }
        return 0;
    }
}
