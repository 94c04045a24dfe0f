using static TorchSharp.torch;

namespace Flux2.Distributed;

/// <summary>The two collectives data-parallel LoRA training needs, on flat contiguous fp32 buffers, in place. Every
/// rank must call them in the same order with buffers of the same sizes. <see cref="NcclCollectives"/> runs them on
/// GPUs;
/// <see cref="StoreCollectives"/> through the rendezvous store on CPU (tests, the micro model).</summary>
public interface ICollectives : IDisposable
{
    string Name { get; }
    /// <summary>Each buffer becomes the element-wise mean of that buffer over all ranks.</summary>
    void AllReduceMean(IReadOnlyList<Tensor> buffers);
    /// <summary>Each buffer becomes rank 0's.</summary>
    void Broadcast(IReadOnlyList<Tensor> buffers);
}
