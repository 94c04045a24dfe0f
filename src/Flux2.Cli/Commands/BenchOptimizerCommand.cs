using System.Globalization;
using Flux2.Training.Config;
using Flux2.Training.Optim;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 bench optimizer</c>: AdamW vs AdamW8bit on one job — state bytes of
/// both over the job's LoRA, and the loss curves of adamw and adamw8bit at the same seed next to adamw at another seed
/// (the run-to-run noise). See <see cref="OptimizerComparison"/>.</summary>
public static class BenchOptimizerCommand
{
    public const string Help = """
        ./flux2 bench optimizer [--job datasets-sample/midnight_tarot.yaml] [--steps 300] [--window 25] [--device cpu]
          Trains the job three times (adamw, adamw8bit at the job's seed; adamw at seed + 1), sampling off, into a temp
          folder; prints optimizer state bytes and their ratio, the loss curves as means per window of steps, and the
          mean |difference| of the adamw8bit curve to adamw's against the run-to-run noise.
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var path = args.Get("job", "datasets-sample/midnight_tarot.yaml");
        int steps = args.Int("steps", 300, 1, 10_000_000), window = args.Int("window", 25, 1, 10_000_000);
        var device = args.Get("device");
        args.EnsureAllUsed();
        if (steps < 1 || window < 1) throw new UserError("bench optimizer: --steps and --window must be at least 1");

        LoadedJob Load()
        {
            LoadedJob loaded;
            try { loaded = JobConfigReader.Read(path); }
            catch (JobConfigException e) { throw new UserError(e.Message); }
            catch (FileNotFoundException e) { throw new UserError(e.Message); }
            loaded.Job.Process.Train.Steps = steps;
            if (device is not null) loaded.Job.Process.Device = device;
            return loaded;
        }

        var scratch = Path.Combine(Path.GetTempPath(), "flux2-bench-optimizer",
            DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var c = OptimizerComparison.Run(Load, scratch, window, m => o.WriteLine(m));
        Print(c, path, o);
        o.WriteLine($"runs in {scratch}");
        return 0;
    }

    static void Print(OptimizerComparison c, string job, TextWriter o)
    {
        o.WriteLine();
        o.WriteLine($"job {job}, {c.AdamW.Losses.Count} steps; LoRA {c.LoraValues:N0} trainable values");
        o.WriteLine($"optimizer state: adamw {c.AdamWStateBytes:N0} B, " +
            $"adamw8bit {c.AdamW8bitStateBytes:N0} B, ratio {c.StateRatio:P1}");
        o.WriteLine();
        o.WriteLine($"mean loss per {c.Window} steps:");
        o.WriteLine($"| steps | {c.AdamW.Label} | {c.AdamW8bit.Label} | {c.AdamWOtherSeed.Label} |");
        o.WriteLine("|---|---|---|---|");
        var (a, b, n) = (c.Windowed(c.AdamW), c.Windowed(c.AdamW8bit), c.Windowed(c.AdamWOtherSeed));
        for (int i = 0; i < a.Count; i++)
            o.WriteLine($"| {i * c.Window + 1}-{Math.Min((i + 1) * c.Window, c.AdamW.Losses.Count)} | {a[i]:F4} | " +
                $"{b[i]:F4} | {n[i]:F4} |");
        o.WriteLine();
        o.WriteLine($"mean |windowed difference|: adamw8bit vs adamw {c.EightBitGap:F4}; run-to-run noise (adamw, " +
            $"seed vs seed+1) {c.Noise:F4}" +
            $" -> {(c.EightBitGap <= c.Noise ? "within noise" : "ABOVE noise")}");
        foreach (var r in new[] { c.AdamW, c.AdamW8bit, c.AdamWOtherSeed })
            o.WriteLine($"{r.Label}: fixed-input loss {r.EvalBefore:F4} -> {r.EvalAfter:F4}, run {r.Seconds:F1} s");
    }
}
