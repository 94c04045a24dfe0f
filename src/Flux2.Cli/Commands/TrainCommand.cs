using System.Diagnostics;
using System.Globalization;
using Flux2.Distributed;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.State;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 train job.yaml</c>: an ai-toolkit LoRA job file, run by <see cref="TrainingRun"/>; prints the
/// resolved config, a progress line (it/s, loss, ETA) and where the files went.</summary>
public static class TrainCommand
{
    public const string Help = """
        ./flux2 train <job.yaml> [--steps N] [--device auto|cpu|cuda:N] [--restart] [--no-eval]
          Runs an ai-toolkit job file (job: extension, config.process[0] with network, save, datasets, train, model,
          sample). model.name_or_path: a diffusers folder, a repo id in the HF cache, or tiny-random.
          Outputs go to <training_folder>/<config.name>/: LoRA files (<name>_<step:09d>.safetensors, final
          <name>.safetensors, ComfyUI/ai-toolkit layout), samples/<step>.png grids, config.resolved.txt.
          --steps and --device override train.steps and device from the file.
          An existing run folder is resumed exactly from its newest checkpoint (each save has a <stem>.state.safetensors
          with the fp32 weights, optimizer, EMA, random and data-order state); run the same command again to continue,
          with a larger --steps to train longer. --restart ignores them: the run's old files move to
          <run>/previous-<time>/. A damaged or non-finite checkpoint is reported and skipped; with none usable, train
          stops (docs/reliability.md).
          Ctrl-C finishes the current step, saves a checkpoint and exits with code 130; run the command again to resume.
          Per-step loss, lr, timestep, grad norm, time and memory, plus sample/save events: <run folder>/run.sqlite.
          When the job has a trigger_word, the final LoRA is then evaluated like ./flux2 eval <run folder> (eval.json,
          eval.md in the run folder); --no-eval skips that.
        Multi-GPU (docs/multi-gpu.md):
        """ + TrainLauncher.Help;

    public static int Run(CliArgs args, TextWriter o)
    {
        var path = args.Positional(0, "the job file (e.g. datasets-sample/midnight_tarot.yaml)");
        var steps = args.Get("steps");
        var device = args.Get("device");
        bool eval = !args.Flag("no-eval");
        bool restart = args.Flag("restart");
        var launch = TrainLauncher.Plan(args);
        args.EnsureAllUsed();
        if (launch is not null)
            return TrainLauncher.Launch(launch, new[] { "train", path }
                .Concat(steps is null ? [] : ["--steps", steps]).Concat(device is null ? [] : ["--device", device])
                .Concat(restart ? ["--restart"] : []).Concat(eval ? [] : ["--no-eval"]).ToList(), o);
        ProcessGroup? group;
        try { group = ProcessGroup.FromEnvironment(); }
        catch (ArgumentException e) { throw new UserError("train: " + e.Message); }
        if (group is { IsMain: false }) o = TextWriter.Null; // rank 0 alone reports; errors still reach stderr

        LoadedJob loaded;
        try { loaded = JobConfigReader.Read(path); }
        catch (JobConfigException e) { throw new UserError(e.Message); }
        var process = loaded.Job.Process;
        if (steps is not null)
            process.Train.Steps = int.TryParse(steps, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
                && n >= 0 ? n
                : throw new UserError($"train: --steps must be a whole number >= 0, got '{steps}'");
        if (device is not null) process.Device = device;
        loaded = JobModelDefaults.Apply(loaded);
        JobConfigPrinter.Print(loaded, o);
        o.WriteLine();

        var clock = Stopwatch.StartNew();
        double loss = double.NaN, firstStepSeconds = 0;
        int firstStep = -1;
        var callbacks = new TrainerCallbacks
        {
            OnMessage = m => o.WriteLine(m),
            OnStep = r =>
            {
                if (r.Applied) loss = double.IsNaN(loss) ? r.Loss : 0.9 * loss + 0.1 * r.Loss;
                // smoothed: one step's loss is noisy by t
                if (firstStep < 0) { firstStep = r.Step - 1; clock.Restart(); firstStepSeconds = r.Seconds; }
                // time steps only, not setup or samples before
                Progress.Bar(o, $"train loss {loss:F4} lr {r.LearningRate:G3}", r.Step - firstStep,
                    r.TotalSteps - firstStep, clock.Elapsed + TimeSpan.FromSeconds(firstStepSeconds));
            },
            OnEval = r => o.WriteLine($"step {r.Step}: fixed-input loss {r.Loss:F4}"),
            OnSample = r => o.WriteLine($"step {r.Step}: samples {r.GridPath} ({r.Seconds:F1} s)"),
            OnSave = r => o.WriteLine($"step {r.Step}: saved {r.Path}"),
        };

        using var stop = new CancellationTokenSource();
        // First Ctrl-C: finish the step and save (the trainer checks the token between steps). Second: the default
        // kill.
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            if (stop.IsCancellationRequested) return;
            e.Cancel = true;
            stop.Cancel();
            o.WriteLine();
            o.WriteLine("Ctrl-C: finishing this step, then saving a checkpoint (Ctrl-C again to kill without saving)");
        };
        Console.CancelKeyPress += onCtrlC;
        TrainingRunResult result;
        try
        {
            result = StopOnOutOfMemory(loaded.Job, () => TrainingRun.Run(loaded, callbacks, stop.Token, restart,
            group));
        }
        catch (ResumeMismatchException e) { throw new UserError(e.Message); }
        catch (DistributedException e) { throw new UserError(e.Message); }
        catch (TrainingFaultException e) { o.WriteLine(); o.WriteLine(e.Message); return 1; }
        finally { Console.CancelKeyPress -= onCtrlC; }
        if (result.Cancelled)
        {
            o.WriteLine($"interrupted at step {result.Step}: checkpoint {result.FinalLora} (with its training state).");
            o.WriteLine($"to resume exactly where it stopped, run the same command again: ./flux2 train " +
                $"{path}{(steps is null ? "" : $" --steps {steps}")}");
            return 130;
        }
        if (group is { IsMain: false }) return 0;
        o.WriteLine($"done in {result.Seconds:F1} s. LoRA: {result.FinalLora}");
        o.WriteLine($"run folder {result.RunFolder}: {result.Checkpoints.Count} step checkpoints kept, " +
            $"{result.SampleGrids.Count} sample grids");
        if (eval && !string.IsNullOrEmpty(process.TriggerWord) && process.Datasets.Count > 0
            && File.Exists(result.FinalLora))
            EvalCommand.Evaluate(result.FinalLora, process.Model.NameOrPath, process.Datasets[0].FolderPath,
                process.TriggerWord,
                EvalDefaults(process), process.Device, result.RunFolder, o);
        o.WriteLine($"use it: ./flux2 generate --model {process.Model.NameOrPath} --lora " +
            $"{result.FinalLora} --prompt \"...\"");
        return 0;
    }

    /// <summary>A CUDA out-of-memory error becomes the guide's survival plan for this job (exit 2, no stack
    /// trace).</summary>
    static T StopOnOutOfMemory<T>(JobFile job, Func<T> run)
    {
        try { return run(); }
        catch (Exception e) when (OutOfMemoryAdvice.IsOutOfMemory(e))
        {
            throw new UserError(OutOfMemoryAdvice.Message(job, e.Message));
        }
    }

    /// <summary>The eval samples the way the job's own samples do (size, steps, guidance).</summary>
    static Flux2.Evaluation.LoraEvalOptions EvalDefaults(ProcessConfig p) => new()
    {
        Width = p.Sample.Width,
        Height = p.Sample.Height,
        Steps = p.Sample.SampleSteps,
        Guidance = (float)p.Sample.GuidanceScale,
    };
}
