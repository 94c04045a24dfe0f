using Flux2.Native;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.State;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Training.Resume;

/// <summary>The loop's fault handling on a one-parameter task (no model needed: the trainer is
/// model-agnostic).</summary>
public class TrainerFaultTests
{
    /// <summary>Loss (w − 1)², NaN on the listed steps; saves nothing.</summary>
    sealed class ToyTask(ISet<int> nanSteps) : ITrainingTask
    {
        public readonly Parameter W = new(zeros(3), requires_grad: true);
        public IReadOnlyList<Parameter> TrainableParameters => new[] { W };
        public int Epoch => 1;
        public MicroBatchLoss Loss(int step) =>
            new(nanSteps.Contains(step) ? (W * float.NaN).sum() : (W - 1).pow(2).sum(), 0.5);
        public SampleReport? Sample(int step) => null;
        public SaveReport Save(int step, bool final, TrainingState state) => new(step, $"toy_{step}", final);
        public double Evaluate() => 0;
        public void CaptureState(TrainingState state) { }
        public void RestoreState(TrainingState state) { }
    }

    static TrainerOptions Options(int steps, int maxNan) =>
        new(steps, 1, 0.1, LrSchedulerType.Constant, 0, 1.0, new OptimizerParams(), 1000, 1000, false,
            MaxNanSteps: maxNan);

    [Fact]
    public void ANanStepIsSkippedWithoutTouchingTheWeights()
    {
        TorchRuntime.EnsureLoaded();
        var task = new ToyTask(new HashSet<int> { 3 });
        var reports = new List<StepReport>();
        float[] before = Array.Empty<float>();
        var trainer = new Trainer(task, Options(5, 3), new TrainerCallbacks
        {
            OnStep = r =>
            {
                reports.Add(r); if (r.Step == 2) before = task.W.data<float>().ToArray(); if (r.Step == 3)
                    Assert.Equal(before, task.W.data<float>().ToArray());
            },
        });
        var outcome = trainer.Run();
        Assert.False(outcome.Cancelled);
        Assert.Equal(new[] { true, true, false, true, true }, reports.Select(r => r.Applied));
    }

    [Fact]
    public void ConsecutiveNanStepsStopTheRunWithAClearMessage()
    {
        TorchRuntime.EnsureLoaded();
        var task = new ToyTask(new HashSet<int> { 2, 5, 6, 7, 8 });
        var e = Assert.Throws<TrainingFaultException>(() => new Trainer(task, Options(100, 3)).Run());
        Assert.Contains("stopped at step 7", e.Message);
        Assert.Contains("max_nan_steps", e.Message);
    }

    [Fact]
    public void ZeroMaxNanStepsNeverStops()
    {
        TorchRuntime.EnsureLoaded();
        var task = new ToyTask(Enumerable.Range(1, 20).ToHashSet());
        Assert.Equal(20, new Trainer(task, Options(20, 0)).Run().Step);
    }
}
