using Flux2.Training.State;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Training;

/// <summary>One micro-batch's loss (a graph-connected scalar) and the mean timestep it was drawn at.</summary>
public sealed record MicroBatchLoss(Tensor Loss, double MeanTimestep);

/// <summary>
/// What <see cref="Trainer"/> needs from a model: trainable parameters, a loss per micro-batch, and the side jobs
/// (samples, saves, a fixed evaluation). Keeps the loop free of FLUX.2 details, so other models or objectives
/// (e.g. DOP, a different network type) plug in without touching it.
/// </summary>
public interface ITrainingTask
{
    IReadOnlyList<Parameter> TrainableParameters { get; }
    /// <summary>Epoch of the data order (1-based once the first batch is drawn).</summary>
    int Epoch { get; }
    MicroBatchLoss Loss(int step);
    /// <summary>Backpropagates a micro-batch's loss (a model that checkpoints its blocks runs the pass through its
    /// block runner, which rethrows a failed recompute here).</summary>
    void Backward(Tensor loss) => loss.backward();
    /// <summary>For a micro-batch whose loss is dropped without a backward pass (non-finite): frees what its forward
    /// kept for the backward.</summary>
    void DiscardForward() { }
    /// <summary>Renders samples; returns null when the job has no sample prompts.</summary>
    SampleReport? Sample(int step);
    /// <summary>Writes the weights file and <paramref name="state"/> next to it (atomically, state first), then rotates
    /// old saves together with their state files. A failure leaves the previous saves untouched.</summary>
    SaveReport Save(int step, bool final, TrainingState state);
    /// <summary>Deterministic loss on fixed inputs, without gradients.</summary>
    double Evaluate();
    /// <summary>Adds the task's own randomness and data position (PRNG, noise generator, data order) and a description
    /// of the network that <see cref="RestoreState"/> checks.</summary>
    void CaptureState(TrainingState state);
    /// <summary>Puts the task back where <see cref="CaptureState"/> was; throws <see cref="ResumeMismatchException"/>
    /// when the state belongs to a differently configured network.</summary>
    void RestoreState(TrainingState state);
}
