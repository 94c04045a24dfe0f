using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Training.State;

/// <summary>
/// Puts an optimizer's per-parameter state into a <see cref="TrainingState"/> and back: for TorchSharp's AdamW the
/// step count and both moments of parameter i as <c>optimizer.i.step</c> / <c>optimizer.i.exp_avg</c> /
/// <c>optimizer.i.exp_avg_sq</c>. The learning rate is not stored: the trainer sets it from the schedule every step.
/// </summary>
public static class OptimizerStateIO
{
    public static void Capture(optim.Optimizer optimizer, TrainingState state)
    {
        var states = States(optimizer);
        state.Put("optimizer.type", "adamw");
        state.Put("optimizer.count", states.Count);
        for (int i = 0; i < states.Count; i++)
        {
            var s = states[i];
            state.Put($"optimizer.{i}.step", s.step);
            state.PutTensor($"optimizer.{i}.exp_avg", s.exp_avg);
            state.PutTensor($"optimizer.{i}.exp_avg_sq", s.exp_avg_sq);
        }
    }

    public static void Restore(optim.Optimizer optimizer, TrainingState state)
    {
        var states = States(optimizer);
        if (state.Get<string>("optimizer.type") != "adamw" || state.Get<int>("optimizer.count") != states.Count)
            throw new ResumeMismatchException($"the checkpoint's optimizer state ({state.Get<string>("optimizer.type")}, " +
                $"{state.Get<int>("optimizer.count")} tensors) does not fit this run's AdamW over {states.Count} tensors");
        using var _ = no_grad();
        for (int i = 0; i < states.Count; i++)
        {
            var s = states[i];
            s.step = state.Get<long>($"optimizer.{i}.step");
            // copy_ into the live tensors: the state objects are the optimizer's own, not copies.
            s.exp_avg.copy_(state.GetTensor($"optimizer.{i}.exp_avg"));
            s.exp_avg_sq.copy_(state.GetTensor($"optimizer.{i}.exp_avg_sq"));
        }
    }

    static IReadOnlyList<AdamW.State> States(optim.Optimizer optimizer)
    {
        if (optimizer is not OptimizerHelper helper)
            throw new NotSupportedException($"saving the state of {optimizer.GetType().Name} is not supported");
        return helper.state_dict().State.Select(s => s as AdamW.State
            ?? throw new NotSupportedException($"saving optimizer state of type {s.GetType().Name} is not supported")).ToList();
    }
}
