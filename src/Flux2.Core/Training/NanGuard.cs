using Flux2.Training.State;

namespace Flux2.Training;

/// <summary>The run stopped because too many steps had a NaN/inf loss or gradient.</summary>
public sealed class TrainingFaultException(string message) : Exception(message);

/// <summary>
/// Counts skipped (non-finite) steps and stops the run when they stop being rare: <c>limit</c> in a row, or more than
/// max(limit, 5% of the run's steps) in total. One bad batch is noise; a streak means the weights or the LR are broken,
/// and carrying on would only waste the remaining time. limit 0 never stops.
/// </summary>
public sealed class NanGuard(int limit, int totalSteps)
{
    public int Consecutive { get; private set; }
    public int Total { get; private set; }

    /// <param name="checkpointNote">what the stop message says about the run's last checkpoint.</param>
    public void Record(StepReport report, string checkpointNote)
    {
        if (report.Applied) { Consecutive = 0; return; }
        Consecutive++; Total++;
        if (limit <= 0) return;
        int totalLimit = Math.Max(limit, totalSteps / 20);
        if (Consecutive >= limit || Total > totalLimit)
            throw new TrainingFaultException(
                $"stopped at step {report.Step}: {Consecutive} steps in a row and {Total} in all had a NaN/inf loss " +
                $"or gradient (limits: {limit} in a row, {totalLimit} in all; train.max_nan_steps). Lower train.lr, " +
                $"keep max_grad_norm > 0, or train in float32. {checkpointNote}");
    }

    public void Capture(TrainingState state)
    {
        state.Put("nan.consecutive", Consecutive);
        state.Put("nan.total", Total);
    }

    public void Restore(TrainingState state)
    {
        Consecutive = state.Get<int>("nan.consecutive"); Total =
        state.Get<int>("nan.total");
    }
}
