using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Network;

namespace Flux2.Training.Optim;

/// <summary>One training run of a comparison: per-step loss and the fixed-input loss before and after.</summary>
public sealed record OptimizerRun(string Label, OptimizerType Optimizer, long Seed, IReadOnlyList<double> Losses,
                                  double EvalBefore, double EvalAfter, double Seconds);

/// <summary>
/// AdamW vs AdamW8bit on one job: the job trained with adamw and with adamw8bit at the same
/// seed (same data order, timesteps and noise, so the only difference is the optimizer), and with adamw at another
/// seed, whose distance to the first run is the run-to-run noise the 8-bit curve must stay within. Curves are
/// compared as means over windows of steps, since one step's loss swings with its random timestep.
/// Sampling and intermediate saves are off; runs go to their own folders under a scratch root.
/// </summary>
public sealed record OptimizerComparison(long LoraValues, long AdamWStateBytes, long AdamW8bitStateBytes, int Window,
                                         OptimizerRun AdamW, OptimizerRun AdamW8bit, OptimizerRun AdamWOtherSeed)
{
    public double StateRatio => (double)AdamW8bitStateBytes / AdamWStateBytes;

    /// <summary>Mean |difference| of the windowed curves of adamw and adamw8bit (same seed).</summary>
    public double EightBitGap => MeanAbsDifference(Windowed(AdamW), Windowed(AdamW8bit));

    /// <summary>Mean |difference| of the windowed curves of adamw at two seeds: what a rerun alone changes.</summary>
    public double Noise => MeanAbsDifference(Windowed(AdamW), Windowed(AdamWOtherSeed));

    public IReadOnlyList<double> Windowed(OptimizerRun run) =>
        run.Losses.Chunk(Window).Select(w => w.Average()).ToList();

    static double MeanAbsDifference(IReadOnlyList<double> a, IReadOnlyList<double> b) =>
        a.Zip(b, (x, y) => Math.Abs(x - y)).DefaultIfEmpty(0).Average();

    /// <param name="load">Reads the job afresh (each run edits its copy).</param>
    public static OptimizerComparison Run(Func<LoadedJob> load, string scratch, int window = 25,
        Action<string>? log = null)
    {
        TorchRuntime.EnsureLoaded();
        var (values, bytes32, bytes8) = StateBytes(load().Job.Process);
        long seed = load().Job.Process.Train.Seed;
        var adamw = Train(load(), OptimizerType.Adamw, seed, scratch, log);
        var adamw8 = Train(load(), OptimizerType.Adamw8bit, seed, scratch, log);
        var other = Train(load(), OptimizerType.Adamw, seed + 1, scratch, log);
        return new OptimizerComparison(values, bytes32, bytes8, window, adamw, adamw8, other);
    }

    /// <summary>State bytes of both optimizers over the job's LoRA, built on the job's model exactly as the trainer
    /// does.</summary>
    static (long values, long adamw, long adamw8bit) StateBytes(ProcessConfig p)
    {
        using var models = Flux2Models.Load(p.Model.NameOrPath, TorchRuntime.Device(p.Device),
            TorchSharp.torch.ScalarType.Float32);
        using var lora = LoraNetwork.Attach(models.Transformer, p.Network, p.Train.Seed);
        var ps = lora.Parameters.ToList();
        using var a = OptimizerFactory.Create(OptimizerType.Adamw, ps, p.Train.Lr, p.Train.OptimizerParams);
        using var b = OptimizerFactory.Create(OptimizerType.Adamw8bit, ps, p.Train.Lr, p.Train.OptimizerParams);
        return (lora.ParameterCount, a.StateBytes, b.StateBytes);
    }

    static OptimizerRun Train(LoadedJob loaded, OptimizerType optimizer, long seed, string scratch, Action<string>? log)
    {
        var job = loaded.Job;
        var p = job.Process;
        string label = $"{optimizer.ToString().ToLowerInvariant()}_seed{seed}";
        job.Config.Name = label;
        p.TrainingFolder = scratch;
        p.Train.Optimizer = optimizer;
        p.Train.Seed = seed;
        p.Train.SkipFirstSample = true;
        p.Sample.Prompts.Clear();
        p.Sample.Samples.Clear();
        p.Sample.SampleEvery = int.MaxValue; // the fixed-input evaluation runs with samples: only before and after
        p.Save.SaveEvery = int.MaxValue;
        var losses = new List<double>();
        var evals = new List<double>();
        log?.Invoke($"training {label}: {p.Train.Steps} steps");
        var result = TrainingRun.Run(loaded, new TrainerCallbacks
        {
            OnStep = r => losses.Add(r.Loss),
            OnEval = r => evals.Add(r.Loss),
        });
        return new OptimizerRun(label, optimizer, seed, losses, evals.FirstOrDefault(double.NaN),
            evals.LastOrDefault(double.NaN), result.Seconds);
    }
}
