using System.Runtime.InteropServices;

namespace Flux2.Diagnostics;

/// <summary>
/// Device memory as the driver sees it, through NVML (libnvidia-ml ships with every NVIDIA driver). TorchSharp has
/// no CUDA memory statistics (design.md), so peaks are measured by sampling "used" memory on a background thread;
/// the figure includes the CUDA context and the caching allocator's reserve — what decides whether a job fits.
/// </summary>
public sealed class GpuMemory : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    struct NvmlMemory { public ulong Total, Free, Used; }

    [DllImport("libnvidia-ml.so.1")] static extern int nvmlInit_v2();
    [DllImport("libnvidia-ml.so.1")] static extern int nvmlDeviceGetHandleByIndex_v2(uint index, out IntPtr device);
    [DllImport("libnvidia-ml.so.1")] static extern int nvmlDeviceGetMemoryInfo(IntPtr device, out NvmlMemory memory);

    readonly IntPtr device;
    readonly Thread sampler;
    volatile bool stop;
    long peak;

    GpuMemory(IntPtr device)
    {
        this.device = device;
        peak = (long)Read().Used;
        sampler = new Thread(() => { while (!stop) { var u = (long)Read().Used; if (u > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, u); Thread.Sleep(2); } })
        { IsBackground = true, Name = "gpu-memory-sampler" };
        sampler.Start();
    }

    /// <summary>Starts sampling GPU <paramref name="index"/> (physical index, after CUDA_VISIBLE_DEVICES mapping if
    /// only one device is visible), or returns null when NVML is unavailable (no NVIDIA driver).</summary>
    public static GpuMemory? TryStart(uint index = 0)
    {
        try
        {
            if (Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is { Length: > 0 } v && uint.TryParse(v.Split(',')[(int)index], out var phys)) index = phys;
            if (nvmlInit_v2() != 0 || nvmlDeviceGetHandleByIndex_v2(index, out var d) != 0) return null;
            return new GpuMemory(d);
        }
        catch (DllNotFoundException) { return null; }
        catch (EntryPointNotFoundException) { return null; }
    }

    NvmlMemory Read() { nvmlDeviceGetMemoryInfo(device, out var m); return m; }

    public double UsedGiB => Read().Used / (double)(1L << 30);
    public double TotalGiB => Read().Total / (double)(1L << 30);
    public double PeakGiB => Interlocked.Read(ref peak) / (double)(1L << 30);
    public void ResetPeak() => Interlocked.Exchange(ref peak, (long)Read().Used);
    public void Dispose() { stop = true; sampler.Join(); }
}
