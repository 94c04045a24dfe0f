using Flux2.Distributed;
using Flux2.Training.Config;

namespace Flux2.Training;

/// <summary>The loop's knobs, taken from the job's train/save/sample sections (defaults live in Config/JobConfig.cs).
/// <paramref name="EmaDecay"/>: null = no EMA. <paramref name="ResumeFrom"/>: a training-state file to continue
/// from.</summary>
public sealed record TrainerOptions(
    int Steps, int GradientAccumulation, double LearningRate, LrSchedulerType Schedule, int WarmupSteps,
    double MaxGradNorm, OptimizerParams Optimizer, int SaveEvery, int SampleEvery, bool SampleBeforeTraining,
    double? EmaDecay = null, int MaxNanSteps = 10, string? ResumeFrom = null)
{
    /// <summary>train.optimizer: adamw or adamw8bit (Optim/OptimizerFactory.cs).</summary>
    public OptimizerType OptimizerType { get; init; } = OptimizerType.Adamw;

    /// <summary>Set when this process is one rank of a data-parallel job (Distributed/DataParallel.cs); null = one
    /// process.</summary>
    public IDataParallel? DataParallel { get; init; }

    /// <summary>No sample grids at all (train.disable_sampling).</summary>
    public bool DisableSampling { get; init; }
    /// <summary>No sample_every grids before this step (sample.sample_start_step).</summary>
    public int SampleStartStep { get; init; }
    /// <summary>A resumed run samples before its first step too (train.force_first_sample).</summary>
    public bool ForceFirstSample { get; init; }

    public static TrainerOptions From(ProcessConfig p) => new(
        p.Train.Steps, p.Train.GradientAccumulationSteps, p.Train.Lr, p.Train.LrScheduler, p.Train.LrWarmupSteps,
        p.Train.MaxGradNorm, p.Train.OptimizerParams, p.Save.SaveEvery, p.Sample.SampleEvery, !p.Train.SkipFirstSample,
        p.Train.EmaConfig.UseEma ? p.Train.EmaConfig.EmaDecay : null, p.Train.MaxNanSteps)
    {
        OptimizerType = p.Train.Optimizer,
        DisableSampling = p.Train.DisableSampling,
        SampleStartStep = p.Sample.SampleStartStep,
        ForceFirstSample = p.Train.ForceFirstSample,
    };

    /// <summary>Whether step <paramref name="step"/> (1-based, after its update) is a sample_every step.</summary>
    public bool SamplesAfter(int step) => step % SampleEvery == 0 && step >= SampleStartStep;
}
