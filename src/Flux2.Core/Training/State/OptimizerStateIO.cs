using Flux2.Training.Optim;

namespace Flux2.Training.State;

/// <summary>
/// Puts an optimizer's state into a <see cref="TrainingState"/> and back, through
/// <see cref="ITrainingOptimizer.State"/>: its named tensors are stored under <c>optimizer.&lt;name&gt;</c> (AdamW:
/// <c>i.exp_avg</c>, <c>i.exp_avg_sq</c>,
/// <c>i.step</c>; AdamW8bit: 8-bit codes and block scales). The learning rate is not stored: the trainer sets it from
/// the schedule every step.
/// </summary>
public static class OptimizerStateIO
{
    const string Prefix = "optimizer.";

    public static void Capture(ITrainingOptimizer optimizer, TrainingState state)
    {
        var named = optimizer.State();
        state.Put("optimizer.type", optimizer.Name);
        state.Put("optimizer.count", named.Count);
        foreach (var (name, tensor) in named) state.PutTensor(Prefix + name, tensor);
    }

    public static void Restore(ITrainingOptimizer optimizer, TrainingState state)
    {
        var type = state.Get<string>("optimizer.type");
        var named = state.Tensors.Where(kv => kv.Key.StartsWith(Prefix, StringComparison.Ordinal))
                                 .ToDictionary(kv => kv.Key[Prefix.Length..], kv => kv.Value);
        if (type != optimizer.Name || named.Count != state.Get<int>("optimizer.count"))
            throw new ResumeMismatchException($"the checkpoint's optimizer state ({type}, {named.Count} tensors) " +
                $"does not fit this run's " +
                $"{optimizer.Name}; keep train.optimizer as it was, or start again with --restart");
        try { optimizer.Load(named); }
        catch
            (ArgumentException e)
        {
            throw new ResumeMismatchException($"the checkpoint's optimizer state does not fit this run: {e.Message}");
        }
    }
}
