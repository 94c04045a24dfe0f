using TorchSharp.Modules;

namespace Flux2.Distributed;

/// <summary>
/// What the trainer needs to train as one rank of a data-parallel job (<see cref="DataParallel"/> implements it over
/// NCCL or the CPU store): gradients averaged after the accumulation loop and before clipping — so every rank
/// clips and steps the same — a mean of a few scalars (loss, "finite", "stop"), and rank 0's weights copied to all at
/// the start. Rank 0 alone samples, evaluates and saves.
/// </summary>
public interface IDataParallel
{
    int Rank { get; }
    int WorldSize { get; }
    /// <summary>Each parameter's gradient becomes its mean over the ranks.</summary>
    void AverageGradients(IReadOnlyList<Parameter> parameters);
    /// <summary>The element-wise mean of <paramref name="values"/> over the ranks (fp32 precision).</summary>
    double[] Average(double[] values);
    /// <summary>Every rank's parameters become rank 0's.</summary>
    void CopyFromMain(IReadOnlyList<Parameter> parameters);

    /// <summary>Returns once every rank got here: the ranks wait for rank 0's saves, samples and evaluations, which can
    /// take minutes, without a collective's deadline running (a dead rank still ends the wait through the
    /// store).</summary>
    void WaitTogether(string what);
}
