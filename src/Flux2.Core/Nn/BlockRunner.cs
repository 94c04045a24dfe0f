using Flux2.Nn.Offload;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>
/// The one place that runs a model's blocks: plainly, or, with <see cref="Checkpointing"/> while gradients are
/// recorded, through <see cref="GradientCheckpoint"/> (activations recomputed in the backward pass). Either way between
/// the <see cref="Residency"/> hooks (layer offloading). A checkpointed block gets its LoRA dropout generators and
/// adapter switches replayed for the recompute, its layers told when they run a training forward without gradients
/// or a recompute, and its hidden-state inputs parked in pinned host memory with <see cref="InputOffloader"/>.
/// Blocks are numbered in execution order, as in <see cref="IBlockResidency"/>.
/// </summary>
public sealed class BlockRunner
{
    /// <summary>Recompute each block's activations in the backward pass instead of keeping them (applies only while
    /// gradients are recorded): memory per block drops to its inputs, for one more forward per step.</summary>
    public bool Checkpointing { get; set; }

    /// <summary>Called around every block run, in the forward and, with checkpointing, in the backward recompute
    /// (layer offloading streams block weights with it).</summary>
    public IBlockResidency? Residency { get; set; }

    /// <summary>With checkpointing, where the blocks' hidden-state inputs wait for the backward pass: in pinned host
    /// memory instead of on the GPU (<see cref="CheckpointInputOffloader"/>). Owned by whoever sets it.</summary>
    public CheckpointInputOffloader? InputOffloader { get; set; }

    /// <summary>The state one checkpointed training forward and its backward share (recompute failures, parked inputs,
    /// gradients handed to libtorch).</summary>
    public CheckpointSession Session { get; } = new();

    /// <summary>Block <paramref name="index"/> (<paramref name="block"/>) applied to <paramref name="inputs"/> by
    /// <paramref name="forward"/>, which returns new tensors the caller owns and must not modify its inputs in
    /// place.</summary>
    public Tensor[] Run<TInputs>(int index, nn.Module block, TInputs inputs, Func<TInputs, Tensor[]> forward)
        where TInputs : IBlockInputs<TInputs>
    {
        var residency = Residency;
        residency?.Enter(index, recompute: false);
        try
        {
            if (!Checkpointing || !is_grad_enabled()) return forward(inputs);
            return GradientCheckpoint.Run(t => forward(TInputs.Unpack(t)), inputs.Pack(), Session, new CheckpointHooks
            {
                Generators = LoraAdapterState.DropoutGenerators(block),
                CaptureState = () => LoraAdapterState.Capture(block),
                DuringForward = () => TrainingForward(block.modules().OfType<Linear>()),
                DuringRecompute = () => Recomputing(block.modules().OfType<Linear>(), Session),
                BeforeRecompute = residency is null ? null : () => residency.Enter(index, recompute: true),
                AfterBackward = residency is null ? null : () => residency.Exit(index, recompute: true),
                InputOffloader = InputOffloader,
                OffloadableInputs = TInputs.HiddenStates,
            });
        }
        finally { residency?.Exit(index, recompute: false); }
    }

    /// <summary><c>loss.backward()</c>; with checkpointing through <see cref="Session"/>, which rethrows here what a
    /// block's recompute failed with and gives back parked inputs. Call it on the thread that ran the
    /// forward.</summary>
    public void Backward(Tensor loss)
    {
        if (Checkpointing) Session.Backward(loss);
        else loss.backward();
    }

    /// <summary>For a forward whose graph is dropped without a backward pass: parked inputs are given back
    /// now.</summary>
    public void DiscardForward() => Session.DiscardForward();

    /// <summary>Switches the LoRA adapters of <paramref name="layers"/> to a training forward (dropout on) although no
    /// gradients are recorded; disposing the result switches them back.</summary>
    public static IDisposable TrainingForward(IEnumerable<Linear> layers)
    {
        var adapters = layers.SelectMany(l => l.Adapters).Select(a => (Adapter: a, Was: a.TrainingForward)).ToList();
        foreach (var (a, _) in adapters) a.TrainingForward = true;
        return new Undo(() => { foreach (var (a, was) in adapters) a.TrainingForward = was; });
    }

    /// <summary>Marks <paramref name="layers"/> as being recomputed for <paramref name="session"/>'s backward pass
    /// (<see cref="Linear.Recompute"/>); disposing the result ends that.</summary>
    public static IDisposable Recomputing(IEnumerable<Linear> layers, CheckpointSession session)
    {
        var marked = layers.Select(l => (Layer: l, Was: l.Recompute)).ToList();
        foreach (var (l, _) in marked) l.Recompute = session;
        return new Undo(() => { foreach (var (l, was) in marked) l.Recompute = was; });
    }
}
