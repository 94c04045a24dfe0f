using Flux2.Training.Optim;
using Flux2.Training.State;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Training;

/// <summary>Saving and resuming: what the loop itself owns in a <see cref="TrainingState"/> — step, epoch, the
/// trained weights in fp32 (<c>param.i</c>; the LoRA file bakes alpha in and may be bf16, so it is not exact),
/// optimizer, EMA, NaN counters — and the task adds its own parts.</summary>
public sealed partial class Trainer
{
    sealed record Parts(ITrainingOptimizer Optimizer, EmaWeights? Ema, NanGuard Nan);

    /// <summary>The newest checkpoint this run saved or resumed from (its LoRA file), or null.</summary>
    string? lastCheckpoint;

    string Save(int step, bool final, Parts run)
    {
        using var state = Capture(step, run);
        // A non-finite checkpoint could not be resumed from, and its rotation would delete the last good one.
        if (TrainingStateFile.NonFinite(state) is string bad)
            throw new TrainingFaultException(
                $"stopped at step {step}: the trained weights or optimizer state ('{bad}') have NaN or infinite " +
                "values, so nothing was saved. Lower train.lr, keep max_grad_norm > 0, or train in float32. " +
                CheckpointNote());
        SaveReport report;
        // The file gets the averaged weights (docs/ai-toolkit-compat.md §2.11); the state keeps the trained ones and
        // the shadow.
        using (run.Ema?.SwappedIn()) report = task.Save(step, final, state);
        lastCheckpoint = report.Path;
        cb.OnSave?.Invoke(report);
        return report.Path;
    }

    /// <summary>What a stop for NaN/inf leaves to resume from: only finite checkpoints are ever written.</summary>
    string CheckpointNote() => lastCheckpoint is null
        ? "No checkpoint was saved before this."
        : $"The last checkpoint, {lastCheckpoint}, is finite and unaffected; run again with the new settings to " +
          "resume from it.";

    TrainingState Capture(int step, Parts run)
    {
        var state = new TrainingState();
        state.Put("step", step);
        state.Put("epoch", task.Epoch);
        state.Put("lr_schedule_step", step); // the schedule is a pure function of the 0-based step index
        var parameters = task.TrainableParameters;
        state.Put("param.count", parameters.Count);
        for (int i = 0; i < parameters.Count; i++) state.PutTensor($"param.{i}", parameters[i]);
        OptimizerStateIO.Capture(run.Optimizer, state);
        run.Ema?.Capture(state);
        run.Nan.Capture(state);
        task.CaptureState(state);
        return state;
    }

    /// <summary>Loads <paramref name="path"/> into the weights, optimizer, EMA and task; returns the step it was saved
    /// after.</summary>
    int Resume(string path, Parts run)
    {
        try { return Restore(path, run); }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: cannot resume from it: {e.Message.Replace(path + ": ", "")}. " +
                "Move it (and its LoRA file) out of the run folder to resume from an older checkpoint, or run " +
                "again with --restart", e);
        }
    }

    int Restore(string path, Parts run)
    {
        using var state = TrainingStateFile.Read(path);
        task.RestoreState(state); // first: its network check gives the clearest message
        var parameters = task.TrainableParameters;
        if (state.Get<int>("param.count") != parameters.Count)
            throw new ResumeMismatchException($"the checkpoint has {state.Get<int>("param.count")} trained tensors, " +
                $"this run {parameters.Count}");
        using (no_grad())
            for (int i = 0; i < parameters.Count; i++)
            {
                var saved = state.GetTensor($"param.{i}");
                if (!saved.shape.SequenceEqual(parameters[i].shape))
                    throw new ResumeMismatchException($"trained tensor {i} has shape " +
                        $"[{string.Join(", ", saved.shape)}] in the checkpoint, " +
                        $"[{string.Join(", ", parameters[i].shape)}] in this run");
                parameters[i].copy_(saved);
            }
        OptimizerStateIO.Restore(run.Optimizer, state);
        if (run.Ema is not null && !run.Ema.Restore(state))
            cb.OnMessage?.Invoke("the checkpoint has no EMA weights (EMA was off): " +
                "the average starts from the resumed weights");
        run.Nan.Restore(state);
        int step = state.Step;
        lastCheckpoint = TrainingStateFile.LoraPathFor(path);
        cb.OnMessage?.Invoke($"resuming from step {step} ({Path.GetFileName(path)})");
        cb.OnResume?.Invoke(new ResumeReport(step, path));
        return step;
    }
}
