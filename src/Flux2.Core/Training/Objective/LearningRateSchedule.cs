using Flux2.Training.Config;

namespace Flux2.Training.Objective;

/// <summary>
/// Learning-rate multiplier per optimizer step: linear warm-up over lr_warmup_steps (from 1/warmup to 1), then
/// constant, linear decay to 0, or half-cosine to 0 over the remaining steps (docs/ai-toolkit-compat.md §1.2
/// lr_scheduler; lr_warmup_steps is this kit's addition).
/// </summary>
public sealed class LearningRateSchedule(LrSchedulerType type, int totalSteps, int warmupSteps)
{
    /// <summary>Factor for the optimizer step with 0-based index <paramref name="step"/>.</summary>
    public double Factor(int step)
    {
        if (warmupSteps > 0 && step < warmupSteps) return (step + 1.0) / warmupSteps;
        int decaySteps = Math.Max(1, totalSteps - warmupSteps);
        double progress = Math.Clamp((double)(step - warmupSteps) / decaySteps, 0, 1);
        return type switch
        {
            LrSchedulerType.Linear => 1 - progress,
            LrSchedulerType.Cosine => 0.5 * (1 + Math.Cos(Math.PI * progress)),
            _ => 1.0,
        };
    }
}
