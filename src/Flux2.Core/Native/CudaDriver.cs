using System.Runtime.InteropServices;

namespace Flux2.Native;

/// <summary>
/// The few CUDA driver-API calls that layer offloading needs and TorchSharp does not expose (it has no stream
/// API): a second stream for host-to-device copies, events to order it against libtorch's compute stream, pinned host
/// memory and async copies. <c>libcuda.so.1</c> ships with every NVIDIA driver, so nothing extra is installed.
/// libtorch runs its kernels on the legacy default stream (<see cref="ComputeStream"/>, handle 0) in the runtime's
/// primary context; every call here works in whatever context is current on the calling thread, which is that
/// primary context on any thread that already ran CUDA work (checked by <see cref="EnsureContext"/>).
/// </summary>
public static class CudaDriver
{
    const string Lib = "libcuda.so.1";
    /// <summary>libtorch's compute stream: the legacy default stream (CUDA driver API docs, "Stream synchronization
    /// behavior": handle 0 is the legacy stream unless compiled for per-thread default streams, which PyTorch is
    /// not).</summary>
    public static readonly IntPtr ComputeStream = IntPtr.Zero;

    const uint CU_STREAM_NON_BLOCKING = 0x1;   // no implicit sync with the legacy stream: copies overlap compute
    const uint CU_EVENT_DEFAULT = 0x0;
    const uint CU_EVENT_DISABLE_TIMING = 0x2;  // cheapest event kind, for ordering only
    const uint CU_MEMHOSTALLOC_PORTABLE = 0x1;

    [DllImport(Lib)] static extern int cuInit(uint flags);
    [DllImport(Lib)] static extern int cuCtxGetCurrent(out IntPtr ctx);
    [DllImport(Lib)] static extern int cuStreamCreate(out IntPtr stream, uint flags);
    [DllImport(Lib)] static extern int cuStreamDestroy_v2(IntPtr stream);
    [DllImport(Lib)] static extern int cuStreamSynchronize(IntPtr stream);
    [DllImport(Lib)] static extern int cuStreamWaitEvent(IntPtr stream, IntPtr evt, uint flags);
    [DllImport(Lib)] static extern int cuEventCreate(out IntPtr evt, uint flags);
    [DllImport(Lib)] static extern int cuEventDestroy_v2(IntPtr evt);
    [DllImport(Lib)] static extern int cuEventRecord(IntPtr evt, IntPtr stream);
    [DllImport(Lib)] static extern int cuEventSynchronize(IntPtr evt);
    [DllImport(Lib)] static extern int cuEventElapsedTime(out float ms, IntPtr start, IntPtr end);
    [DllImport(Lib)] static extern int cuMemHostAlloc(out IntPtr p, UIntPtr bytes, uint flags);
    [DllImport(Lib)] static extern int cuMemFreeHost(IntPtr p);
    [DllImport(Lib)] static extern int cuMemcpyHtoDAsync_v2(ulong dst, IntPtr src, UIntPtr bytes, IntPtr stream);
    [DllImport(Lib)] static extern int cuMemcpyDtoH_v2(IntPtr dst, ulong src, UIntPtr bytes);
    [DllImport(Lib)] static extern int cuMemcpyDtoHAsync_v2(IntPtr dst, ulong src, UIntPtr bytes, IntPtr stream);
    [DllImport(Lib)] static extern int cuGetErrorName(int error, out IntPtr name);
    [DllImport(Lib)] static extern int cuMemGetInfo_v2(out UIntPtr free, out UIntPtr total);

    /// <summary>Total memory of the current context's device in bytes, or null when the driver cannot say.</summary>
    public static long? DeviceTotalBytes() => cuMemGetInfo_v2(out _, out var total) == 0 ? (long)total : null;

    static bool initialized;

    /// <summary>Throws unless the NVIDIA driver is present and a CUDA context is current on this thread.</summary>
    public static void EnsureContext(string who)
    {
        try { if (!initialized) { Check(cuInit(0), "cuInit"); initialized = true; } }
        catch
            (DllNotFoundException e)
        {
            throw new InvalidOperationException($"{who}: the NVIDIA driver library {Lib} was not found; layer " +
                $"offloading needs CUDA", e);
        }
        Check(cuCtxGetCurrent(out var ctx), "cuCtxGetCurrent");
        if (ctx == IntPtr.Zero)
            throw new InvalidOperationException($"{who}: no CUDA context is current on thread " +
                $"'{Thread.CurrentThread.Name ?? Environment.CurrentManagedThreadId.ToString()}'. " +
                "libtorch's primary context becomes current on a thread once it runs CUDA work; run a CUDA tensor " +
                "operation on this thread first.");
    }

    public static IntPtr CreateCopyStream()
    {
        Check(cuStreamCreate(out var s, CU_STREAM_NON_BLOCKING),
        "cuStreamCreate"); return s;
    }
    public static void DestroyStream(IntPtr s) => Check(cuStreamDestroy_v2(s), "cuStreamDestroy");
    public static void SynchronizeStream(IntPtr s) => Check(cuStreamSynchronize(s), "cuStreamSynchronize");

    public static IntPtr CreateEvent(bool timing = false)
    {
        Check(cuEventCreate(out var e,
        timing ? CU_EVENT_DEFAULT : CU_EVENT_DISABLE_TIMING), "cuEventCreate"); return e;
    }
    public static void DestroyEvent(IntPtr e) => Check(cuEventDestroy_v2(e), "cuEventDestroy");
    public static void Record(IntPtr evt, IntPtr stream) => Check(cuEventRecord(evt, stream), "cuEventRecord");
    /// <summary>Work enqueued on <paramref name="stream"/> after this call starts only once <paramref name="evt"/>'s
    /// latest record has completed (a never-recorded event is complete).</summary>
    public static void Wait(IntPtr stream, IntPtr evt) => Check(cuStreamWaitEvent(stream, evt, 0), "cuStreamWaitEvent");
    public static void Synchronize(IntPtr evt) => Check(cuEventSynchronize(evt), "cuEventSynchronize");
    public static float ElapsedMilliseconds(IntPtr start, IntPtr end)
    {
        Check(cuEventElapsedTime(out var ms, start, end), "cuEventElapsedTime"); return ms;
    }

    /// <summary>Page-locked host memory (exact size, unlike the power-of-two rounding of libtorch's pinned allocator):
    /// the only kind of source from which a host-to-device copy runs asynchronously at full PCIe speed.</summary>
    public static IntPtr AllocPinned(long bytes)
    {
        Check(cuMemHostAlloc(out var p, (UIntPtr)(ulong)bytes,
        CU_MEMHOSTALLOC_PORTABLE),
            $"cuMemHostAlloc({bytes / (double)(1L << 30):F2} GiB of pinned host memory; " +
            "offload fewer blocks or free CPU RAM)"); return p;
    }
    public static void FreePinned(IntPtr p) => Check(cuMemFreeHost(p), "cuMemFreeHost");

    public static void CopyToDeviceAsync(IntPtr deviceDst, IntPtr hostSrc, long bytes, IntPtr stream) =>
        Check(cuMemcpyHtoDAsync_v2((ulong)deviceDst, hostSrc, (UIntPtr)(ulong)bytes, stream), "cuMemcpyHtoDAsync");
    public static void CopyToHostAsync(IntPtr hostDst, IntPtr deviceSrc, long bytes, IntPtr stream) =>
        Check(cuMemcpyDtoHAsync_v2(hostDst, (ulong)deviceSrc, (UIntPtr)(ulong)bytes, stream), "cuMemcpyDtoHAsync");
    /// <summary>Synchronous device-to-host copy, ordered after the work already on the legacy stream.</summary>
    public static void CopyToHost(IntPtr hostDst, IntPtr deviceSrc, long bytes) =>
        Check(cuMemcpyDtoH_v2(hostDst, (ulong)deviceSrc, (UIntPtr)(ulong)bytes), "cuMemcpyDtoH");

    static void Check(int result, string call)
    {
        if (result == 0) return;
        string name = cuGetErrorName(result, out var p) == 0 && p != IntPtr.Zero ? Marshal.PtrToStringAnsi(p) ?? "?"
            : "?";
        throw new InvalidOperationException($"CUDA driver call {call} failed: {name} ({result})");
    }
}
