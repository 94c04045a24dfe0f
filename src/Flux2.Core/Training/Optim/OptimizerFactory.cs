using Flux2.Training.Config;
using TorchSharp.Modules;

namespace Flux2.Training.Optim;

/// <summary>Builds the optimizer that train.optimizer names, with train.lr and train.optimizer_params.</summary>
public static class OptimizerFactory
{
    public static ITrainingOptimizer Create(TrainConfig train, IReadOnlyList<Parameter> parameters)
        => Create(train.Optimizer, parameters, train.Lr, train.OptimizerParams);

    public static ITrainingOptimizer Create(OptimizerType type, IReadOnlyList<Parameter> parameters, double lr,
        OptimizerParams o)
    {
        var hyper = new AdamWHyperParameters(lr, o.Betas[0], o.Betas[1], o.Eps, o.WeightDecay);
        return type switch
        {
            OptimizerType.Adamw => new TorchAdamW(parameters, hyper),
            OptimizerType.Adamw8bit => new AdamW8bit(parameters, hyper),
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown optimizer"),
        };
    }
}

/// <summary>AdamW's knobs (decoupled weight decay: p ← p·(1 − lr·wd) before the Adam step).</summary>
public sealed record AdamWHyperParameters(double Lr, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-6,
    double WeightDecay = 1e-4);
