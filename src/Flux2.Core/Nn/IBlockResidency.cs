namespace Flux2.Nn;

/// <summary>
/// Hooks around every block run (<see cref="BlockRunner.Residency"/>), for code that decides where a block's weights
/// live (layer offloading streams them from pinned CPU memory just before they are needed). Blocks are numbered in
/// execution order (the transformer: double-stream blocks 0..N-1, then single-stream blocks N..N+M-1). With gradient
/// checkpointing each block runs twice per training step: once in the forward pass (<c>recompute</c> false, ascending
/// order) and once more inside the backward pass (<c>recompute</c> true, descending order), where its forward is
/// recomputed and its backward run.
/// </summary>
public interface IBlockResidency
{
    /// <summary>Before block <paramref name="index"/> enqueues any kernel: its weights must be usable on the device
    /// once this returns (a wait may be enqueued on the compute stream rather than done on the CPU).</summary>
    void Enter(int index, bool recompute);

    /// <summary>After block <paramref name="index"/> has enqueued its last kernel of this run (for a recompute, the
    /// last kernel of its backward): its device copy may be reused once those kernels complete.</summary>
    void Exit(int index, bool recompute);
}
