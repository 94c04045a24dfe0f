using System.Runtime.InteropServices;

namespace Flux2.Diagnostics;

/// <summary>
/// Device memory as the driver sees it, through NVML (libnvidia-ml ships with every NVIDIA driver). TorchSharp 0.107
/// has no CUDA memory statistics, so peaks are measured by sampling "used" memory on a background thread;
/// the figure includes the CUDA context and the caching allocator's reserve — what decides whether a job fits.
/// Where the driver has nvmlDeviceGetMemoryInfo_v2, "used" leaves out the memory the driver reserves for itself
/// (about 0.5 GiB on an H100, taken with no process running; v1 counts it as used), so the figure is what processes
/// hold; <see cref="DriverReservedGiB"/> says how much was left out.
/// </summary>
public sealed class GpuMemory : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    struct NvmlMemory { public ulong Total, Free, Used; }

    [DllImport("libnvidia-ml.so.1")] static extern int nvmlInit_v2();
    [DllImport("libnvidia-ml.so.1")] static extern int nvmlDeviceGetHandleByIndex_v2(uint index, out IntPtr device);
    [DllImport("libnvidia-ml.so.1")] static extern int nvmlDeviceGetMemoryInfo(IntPtr device, out NvmlMemory memory);

    /// <summary>nvmlMemory_v2_t: version, total, reserved, free, used (used = total − free − reserved).</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct NvmlMemoryV2 { public uint Version; public ulong Total, Reserved, Free, Used; }
    [DllImport("libnvidia-ml.so.1")]
    static extern int nvmlDeviceGetMemoryInfo_v2(IntPtr device,
        ref NvmlMemoryV2 memory);
    static readonly uint V2Version = (uint)Marshal.SizeOf<NvmlMemoryV2>() | (2u << 24);
    bool hasV2 = true;
    ulong reserved;

    readonly IntPtr device;
    readonly Thread sampler;
    volatile bool stop;
    long peak;

    GpuMemory(IntPtr device)
    {
        this.device = device;
        peak = (long)Read().Used;
        sampler = new Thread(() =>
        {
            while (!stop)
            {
                var u = (long)Read().Used; if (u > Interlocked.Read(ref peak))
                    Interlocked.Exchange(ref peak, u); Thread.Sleep(2);
            }
        })
        { IsBackground = true, Name = "gpu-memory-sampler" };
        sampler.Start();
    }

    /// <summary>Starts sampling GPU <paramref name="index"/> (physical index, after CUDA_VISIBLE_DEVICES mapping if
    /// only one device is visible), or returns null when NVML is unavailable (no NVIDIA driver).</summary>
    public static GpuMemory? TryStart(uint index = 0)
    {
        try
        {
            if (Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is { Length: > 0 } v
                && uint.TryParse(v.Split(',')[(int)index], out var phys)) index = phys;
            if (nvmlInit_v2() != 0 || nvmlDeviceGetHandleByIndex_v2(index, out var d) != 0) return null;
            return new GpuMemory(d);
        }
        catch (DllNotFoundException) { return null; }
        catch (EntryPointNotFoundException) { return null; }
    }

    NvmlMemory Read()
    {
        if (hasV2)
        {
            try
            {
                var v2 = new NvmlMemoryV2 { Version = V2Version };
                if (nvmlDeviceGetMemoryInfo_v2(device, ref v2) == 0)
                {
                    reserved = v2.Reserved;
                    return new NvmlMemory { Total = v2.Total, Free = v2.Free, Used = v2.Used };
                }
            }
            catch (EntryPointNotFoundException) { }
            hasV2 = false;
        }
        nvmlDeviceGetMemoryInfo(device, out var m);
        return m;
    }

    /// <summary>Driver-reserved memory left out of "used" (0 with the v1 API, which counts it as used).</summary>
    public double DriverReservedGiB { get { Read(); return reserved / (double)(1L << 30); } }

    public double UsedGiB => Read().Used / (double)(1L << 30);
    public double TotalGiB => Read().Total / (double)(1L << 30);
    public double PeakGiB => Interlocked.Read(ref peak) / (double)(1L << 30);
    public void ResetPeak() => Interlocked.Exchange(ref peak, (long)Read().Used);
    public void Dispose() { stop = true; sampler.Join(); }
}
