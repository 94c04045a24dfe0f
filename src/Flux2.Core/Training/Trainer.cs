using System.Diagnostics;
using Flux2.Distributed;
using Flux2.Nn;
using Flux2.Training.Objective;
using Flux2.Training.Optim;
using Flux2.Training.State;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Training;

/// <summary>How a run ended: after <paramref name="Step"/>, either done or stopped early by the cancellation token
/// (then a step checkpoint with its training state was saved, <paramref name="LastSave"/>).</summary>
public sealed record TrainerResult(int Step, bool Cancelled, string? LastSave);

/// <summary>
/// The optimization loop, independent of the model (docs/ai-toolkit-compat.md §2.1): per step, gradient_accumulation
/// micro-batches whose losses are averaged (ai-toolkit sums them, §2.1 item 10 — averaging keeps the LR meaning the
/// same), gradient clipping at max_grad_norm, AdamW on the task's parameters only, the LR schedule, an optional EMA of
/// the weights (swapped in for samples, evaluation and saves); a step whose loss or gradient is not finite is skipped
/// and counted (<see cref="NanGuard"/>). Save then sample every save_every / sample_every steps (never on the last
/// step, which gets the final save and sample), a baseline sample at step 0 of a fresh run. Every save carries a
/// <see cref="TrainingState"/>; with <see cref="TrainerOptions.ResumeFrom"/> the loop continues from one exactly.
/// Cancellation is checked between steps: the current step finishes, a step checkpoint is saved, Run returns.
/// Every step runs inside its own DisposeScope.
/// Data-parallel (<see cref="TrainerOptions.DataParallel"/>): every rank runs this loop in step; gradients are averaged
/// across ranks after the accumulation loop and before clipping, the reported loss is the ranks' mean, the skip and
/// stop decisions are taken together, and rank 0 alone samples, evaluates and saves.
/// </summary>
public sealed partial class Trainer
{
    readonly ITrainingTask task;
    readonly TrainerOptions options;
    readonly TrainerCallbacks cb;

    readonly IDataParallel? parallel;
    bool IsMain => parallel is null || parallel.Rank == 0;

    public Trainer(ITrainingTask task, TrainerOptions options, TrainerCallbacks? callbacks = null)
    {
        this.task = task; this.options = options; cb = callbacks ?? new TrainerCallbacks();
        parallel = options.DataParallel;
    }

    public TrainerResult Run(CancellationToken cancel = default)
    {
        var parameters = task.TrainableParameters;
        using var optimizer =
            OptimizerFactory.Create(options.OptimizerType, parameters, options.LearningRate, options.Optimizer);
        cb.OnMessage?.Invoke($"optimizer {optimizer.Name}: {optimizer.StateBytes:N0} bytes of state");
        using var ema = options.EmaDecay is double decay ? new EmaWeights(parameters, decay) : null;
        var schedule = new LearningRateSchedule(options.Schedule, options.Steps, options.WarmupSteps);
        var nan = new NanGuard(options.MaxNanSteps, options.Steps);
        var run = new Parts(optimizer, ema, nan);

        int step = 0;
        if (options.ResumeFrom is string resume)
        {
            step = Resume(resume, run);
            if (options.ForceFirstSample && options.SampleBeforeTraining && step < options.Steps) Sample(step, ema);
        }
        else
        {
            Evaluate(0, ema);
            if (options.SampleBeforeTraining && options.Steps > 0) Sample(0, ema);
        }
        parallel?.WaitTogether("start");      // rank 0 may have sampled and evaluated step 0 meanwhile
        parallel?.CopyFromMain(parameters); // same start on every rank, whatever each one's initialization did

        string? lastSave = null;
        // Ranks of a data-parallel job see Ctrl-C at different moments, so they stop only on the step's joint decision.
        while (step < options.Steps && (parallel is not null || !cancel.IsCancellationRequested))
        {
            step++;
            var (report, stop) = Step(step, optimizer, schedule.Factor(step - 1) * options.LearningRate,
                cancel.IsCancellationRequested);
            if (report.Applied) ema?.Update();
            cb.OnStep?.Invoke(report);
            nan.Record(report, CheckpointNote());
            if (step == options.Steps || stop) break;
            bool save = step % options.SaveEvery == 0, sample = options.SamplesAfter(step);
            // During a NaN/inf streak the weights are those of the update that led to it: keep the earlier checkpoint.
            if (IsMain && save && nan.Consecutive > 0)
                cb.OnMessage?.Invoke($"step {step}: not saved (its loss or gradient was not finite); " +
                                     "the previous checkpoint stays");
            else if (IsMain && save) lastSave = Save(step, final: false, run);
            if (sample) { Sample(step, ema); Evaluate(step, ema); }
            if (save || sample) parallel?.WaitTogether($"outputs of step {step}");
        }
        if (step < options.Steps)
        {
            if (!IsMain) return new TrainerResult(step, Cancelled: true, null);
            // Cancelled: a step save (not the final name, which would mean "done") that the next start resumes from.
            lastSave = Save(step, final: false, run);
            cb.OnMessage?.Invoke($"stopped at step {step} of {options.Steps}; checkpoint {lastSave}");
            return new TrainerResult(step, Cancelled: true, lastSave);
        }
        if (!IsMain) return new TrainerResult(step, Cancelled: false, null);
        lastSave = Save(step, final: true, run);
        Sample(step, ema);
        if (step > 0) Evaluate(step, ema);
        return new TrainerResult(step, Cancelled: false, lastSave);
    }

    /// <summary>One optimizer step; <c>stop</c>: some rank (this one: <paramref name="stopRequested"/>) asked to stop
    /// after it.</summary>
    (StepReport report, bool stop) Step(int step, ITrainingOptimizer optimizer, double lr, bool stopRequested)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        optimizer.LearningRate = lr;
        optimizer.ZeroGrad();
        double lossSum = 0, tSum = 0;
        bool finite = true;
        for (int k = 0; k < options.GradientAccumulation; k++)
        {
            var micro = task.Loss(step);
            double value = micro.Loss.item<float>();
            if (!double.IsFinite(value)) { finite = false; task.DiscardForward(); continue; }
            task.Backward(micro.Loss / options.GradientAccumulation); // rethrows a failed block recompute
            lossSum += value; tSum += micro.MeanTimestep;
        }
        if (parallel is not null)
        {
            // All ranks must skip or apply the step, and stop, together; the loss shown is the global batch's.
            parallel.AverageGradients(task.TrainableParameters);
            var mean = parallel.Average(new[] { lossSum, tSum, finite ? 1.0 : 0.0, stopRequested ? 1.0 : 0.0 });
            (lossSum, tSum, finite, stopRequested) = (mean[0], mean[1], mean[2] > 0.999, mean[3] > 0);
        }
        double norm = GradNorm(task.TrainableParameters, options.MaxGradNorm);
        finite &= double.IsFinite(norm);
        if (finite) optimizer.Step();
        else cb.OnMessage?.Invoke($"step {step}: non-finite loss or gradient, update skipped");
        int n = options.GradientAccumulation;
        return (new StepReport(step, options.Steps, finite ? lossSum / n : double.NaN, lr, tSum / n, norm,
            clock.Elapsed.TotalSeconds, task.Epoch)
        { Applied = finite },
                stopRequested);
    }

    /// <summary>Total L2 norm of the gradients, clipped in place to <paramref name="maxNorm"/> when it is
    /// positive.</summary>
    static double GradNorm(IReadOnlyList<TorchSharp.Modules.Parameter> parameters, double maxNorm)
    {
        var withGrad = parameters.Where(p => p.grad is not null).ToList();
        if (withGrad.Count == 0) return 0;
        if (maxNorm > 0) return nn.utils.clip_grad_norm_(withGrad, maxNorm);
        using var norms = stack(withGrad.Select(p => p.grad!.norm()).ToArray());
        return norms.norm().item<float>();
    }

    void Sample(int step, EmaWeights? ema)
    {
        if (!IsMain || options.DisableSampling) return;
        SampleReport? report;
        using (ema?.SwappedIn()) report = task.Sample(step);
        if (report is not null) cb.OnSample?.Invoke(report);
    }

    void Evaluate(int step, EmaWeights? ema)
    {
        if (!IsMain) return;
        double loss;
        using (ema?.SwappedIn()) loss = task.Evaluate();
        cb.OnEval?.Invoke(new EvalReport(step, loss));
    }
}
