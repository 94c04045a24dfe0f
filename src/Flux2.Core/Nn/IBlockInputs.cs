using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>
/// A block's tensor inputs as one record that packs itself into the flat tensor list gradient checkpointing saves and
/// unpacks itself from it (<see cref="BlockRunner"/>). A block reads every tensor it may need a gradient for through
/// this record, never from a closure, so a checkpointed block can be recomputed from exactly these inputs.
/// </summary>
public interface IBlockInputs<TSelf> where TSelf : IBlockInputs<TSelf>
{
    /// <summary>The tensors, in a fixed order.</summary>
    Tensor[] Pack();

    /// <summary>The record <see cref="Pack"/> made <paramref name="tensors"/> from.</summary>
    static abstract TSelf Unpack(IReadOnlyList<Tensor> tensors);

    /// <summary>Positions in <see cref="Pack"/>'s list of the hidden states passed from block to block: the inputs no
    /// one else keeps, which the checkpoint input offloader may move to pinned host memory. A tensor the caller holds
    /// anyway (RoPE tables, modulation) would stay on the GPU, so moving it would save nothing.</summary>
    static abstract IReadOnlyList<int> HiddenStates { get; }
}
