using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// Returns libtorch's cached-but-unused GPU blocks to the driver. TorchSharp 0.107 has no <c>empty_cache</c>; the
/// caching allocator does the same thing on its own when an allocation cannot be met: before giving up it frees every
/// cached block and retries (PyTorch c10/cuda/CUDACachingAllocator.cpp, <c>malloc</c>: <c>release_cached_blocks</c>).
/// So one request larger than any GPU empties the cache and fails harmlessly. Used after offloading frees the
/// weights of a model built on the GPU, so that the freed memory shows in NVML and is available to other processes.
/// </summary>
public static class CachedGpuMemory
{
    public static void Release(Device device)
    {
        if (device.type != DeviceType.CUDA) return;
        try { using var _ = empty(new long[] { 1L << 50 }, ScalarType.Byte, device); }
        catch (Exception e) when (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)) { }
    }
}
