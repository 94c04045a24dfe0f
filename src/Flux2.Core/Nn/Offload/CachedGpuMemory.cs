using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// Returns libtorch's cached-but-unused GPU blocks to the driver. TorchSharp 0.107 has no <c>empty_cache</c>; the
/// caching allocator does the same thing on its own when an allocation cannot be met: before giving up it frees every
/// cached block and retries (PyTorch c10/cuda/CUDACachingAllocator.cpp, <c>malloc</c>: <c>release_cached_blocks</c>).
/// So one request larger than the device (its total memory + 1 GiB: a modest size, so that no allocator setting,
/// expandable segments included, tries to reserve an absurd address range) empties the cache and fails harmlessly. Used
/// after offloading frees the weights of a model built on the GPU, so that the freed memory shows in NVML and is
/// available to other processes.
/// </summary>
public static class CachedGpuMemory
{
    public static void Release(Device device)
    {
        if (device.type != DeviceType.CUDA) return;
        // With expandable segments (our default, Native/TorchRuntime) a too-large request first maps physical memory
        // until the device is full (measured: a 79 GiB NVML peak on an 80 GB H100) before it fails; and the freed
        // memory of such a segment is reused by later allocations without fragmentation anyway. So nothing is done.
        if (Flux2.Native.TorchRuntime.AllocatorConf.Contains("expandable_segments:true",
            StringComparison.OrdinalIgnoreCase)) return;
        long tooLarge = (Flux2.Native.CudaDriver.DeviceTotalBytes() ?? (1L << 40)) + (1L << 30);
        try { using var _ = empty(new long[] { tooLarge }, ScalarType.Byte, device); }
        catch (Exception e) when (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)) { }
    }
}
