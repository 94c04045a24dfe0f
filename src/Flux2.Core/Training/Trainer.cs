using System.Diagnostics;
using Flux2.Training.Objective;
using Flux2.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Training;

/// <summary>
/// The optimization loop, independent of the model (ai-toolkit.md §2.1): per step, gradient_accumulation micro-batches
/// whose losses are averaged (ai-toolkit sums them, §2.1 item 11 — averaging keeps the LR meaning the same), gradient
/// clipping at max_grad_norm, AdamW on the task's parameters only, the LR schedule; a step whose loss or gradient is
/// not finite is skipped. Save then sample every save_every / sample_every steps (never on the last step, which gets
/// the final save and sample), a baseline sample at step 0. Every step runs inside its own DisposeScope.
/// </summary>
public sealed class Trainer(ITrainingTask task, TrainerOptions options, TrainerCallbacks? callbacks = null)
{
    readonly TrainerCallbacks cb = callbacks ?? new TrainerCallbacks();

    public void Run(CancellationToken cancel = default)
    {
        var parameters = task.TrainableParameters;
        using var optimizer = OptimizerFactory.Create(options.OptimizerType, parameters, options.LearningRate, options.Optimizer);
        cb.OnMessage?.Invoke($"optimizer {optimizer.Name}: {optimizer.StateBytes:N0} bytes of state");
        var schedule = new LearningRateSchedule(options.Schedule, options.Steps, options.WarmupSteps);

        cb.OnEval?.Invoke(new EvalReport(0, task.Evaluate()));
        if (options.SampleBeforeTraining && options.Steps > 0) Report(task.Sample(0));

        int step = 0;
        for (step = 1; step <= options.Steps && !cancel.IsCancellationRequested; step++)
        {
            var report = Step(step, optimizer, schedule.Factor(step - 1) * options.LearningRate);
            cb.OnStep?.Invoke(report);
            if (step == options.Steps) break;
            if (step % options.SaveEvery == 0) cb.OnSave?.Invoke(task.Save(step, final: false));
            if (step % options.SampleEvery == 0)
            {
                Report(task.Sample(step));
                cb.OnEval?.Invoke(new EvalReport(step, task.Evaluate()));
            }
        }
        int last = Math.Min(step, options.Steps);
        if (cancel.IsCancellationRequested) cb.OnMessage?.Invoke($"stopped at step {last}");
        cb.OnSave?.Invoke(task.Save(last, final: true));
        Report(task.Sample(last));
        if (last > 0) cb.OnEval?.Invoke(new EvalReport(last, task.Evaluate()));
    }

    StepReport Step(int step, ITrainingOptimizer optimizer, double lr)
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
            if (!double.IsFinite(value)) { finite = false; continue; }
            (micro.Loss / options.GradientAccumulation).backward();
            lossSum += value; tSum += micro.MeanTimestep;
        }
        double norm = GradNorm(task.TrainableParameters, options.MaxGradNorm);
        finite &= double.IsFinite(norm);
        if (finite) optimizer.Step();
        else cb.OnMessage?.Invoke($"step {step}: non-finite loss or gradient, update skipped");
        int n = options.GradientAccumulation;
        return new StepReport(step, options.Steps, lossSum / n, lr, tSum / n, norm, clock.Elapsed.TotalSeconds, task.Epoch) { Applied = finite };
    }

    /// <summary>Total L2 norm of the gradients, clipped in place to <paramref name="maxNorm"/> when it is positive.</summary>
    static double GradNorm(IReadOnlyList<TorchSharp.Modules.Parameter> parameters, double maxNorm)
    {
        var withGrad = parameters.Where(p => p.grad is not null).ToList();
        if (withGrad.Count == 0) return 0;
        if (maxNorm > 0) return nn.utils.clip_grad_norm_(withGrad, maxNorm);
        using var norms = stack(withGrad.Select(p => p.grad!.norm()).ToArray());
        return norms.norm().item<float>();
    }

    void Report(SampleReport? report) { if (report is not null) cb.OnSample?.Invoke(report); }
}
