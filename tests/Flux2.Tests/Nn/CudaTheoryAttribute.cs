using Flux2.Native;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Nn;

/// <summary>The <see cref="CudaFactAttribute"/> of a theory: skipped, with the reason, on CPU-only machines.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        TorchRuntime.EnsureLoaded();
        if (!cuda.is_available()) Skip =
            "needs a CUDA GPU (layer offloading streams weights over PCIe); this machine has none";
    }
}
