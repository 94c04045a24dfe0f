using Flux2.Native;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Nn;

/// <summary>A fact that needs a CUDA device: skipped, with the reason, on CPU-only machines (CI); runs on a GPU box
/// (the same build against PyTorch's CUDA libtorch, environment.md).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        TorchRuntime.EnsureLoaded();
        if (!cuda.is_available()) Skip =
            "needs a CUDA GPU (layer offloading streams weights over PCIe); this machine has none";
    }
}
