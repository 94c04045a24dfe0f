using static TorchSharp.torch;

namespace Flux2.Training.Optim;

/// <summary>
/// What the training loop needs from an optimizer: one update from the gradients, gradient reset, the learning rate the
/// schedule sets before each step, and the state as named tensors so a resumed run can save and restore it exactly.
/// Implementations: <see cref="TorchAdamW"/> (fp32 moments) and <see cref="AdamW8bit"/> (8-bit block-wise moments).
/// </summary>
public interface ITrainingOptimizer : IDisposable
{
    /// <summary>The config name (adamw, adamw8bit), for logs and run metadata.</summary>
    string Name { get; }
    double LearningRate { get; set; }
    void ZeroGrad();
    /// <summary>One update of every parameter that has a gradient.</summary>
    void Step();
    /// <summary>Bytes held by the optimizer state (moments, scales, code tables), not counting parameters or
    /// gradients.</summary>
    long StateBytes { get; }
    /// <summary>The state as named tensors (live views: save them before the next step, or clone).</summary>
    IReadOnlyDictionary<string, Tensor> State();
    /// <summary>Restores a state written by <see cref="State"/> of the same optimizer type over the same
    /// parameters.</summary>
    void Load(IReadOnlyDictionary<string, Tensor> state);
}
