using System.Runtime.InteropServices;
using System.Text;

namespace Flux2.Diagnostics;

/// <summary>
/// Dense bf16 tensor-core peak of a GPU, looked up by the name NVML reports, for MFU (achieved / peak). Figures are
/// NVIDIA's datasheet numbers without sparsity: H100 SXM and H200 989.4 TFLOP/s, H100 NVL 835, H100 PCIe 756,
/// A100 312. Other cards return null: pass the figure yourself (<c>--peak-tflops</c>).
/// </summary>
public static class GpuPeakFlops
{
    [DllImport("libnvidia-ml.so.1")] static extern int nvmlInit_v2();
    [DllImport("libnvidia-ml.so.1")] static extern int nvmlDeviceGetHandleByIndex_v2(uint index, out IntPtr device);
    [DllImport("libnvidia-ml.so.1")] static extern int nvmlDeviceGetName(IntPtr device, byte[] name, uint length);

    static readonly (string Match, double Tflops)[] Table =
    {
        ("H100 NVL", 835), ("H100 PCIe", 756), ("H100", 989.4), ("H200", 989.4), ("GH200", 989.4), ("A100", 312),
    };

    /// <summary>The NVML name of GPU <paramref name="index"/> (after CUDA_VISIBLE_DEVICES mapping), or null without
    /// NVML.</summary>
    public static string? DeviceName(uint index = 0)
    {
        try
        {
            if (Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is { Length: > 0 } v
                && v.Split(',') is var ids && index < ids.Length && uint.TryParse(ids[index], out var phys)) index =
                    phys;
            if (nvmlInit_v2() != 0 || nvmlDeviceGetHandleByIndex_v2(index, out var d) != 0) return null;
            var buffer = new byte[96];
            if (nvmlDeviceGetName(d, buffer, (uint)buffer.Length) != 0) return null;
            return Encoding.ASCII.GetString(buffer).TrimEnd('\0');
        }
        catch (DllNotFoundException) { return null; }
        catch (EntryPointNotFoundException) { return null; }
    }

    /// <summary>Peak dense bf16 TFLOP/s for an NVML device name (e.g. "NVIDIA H100 80GB HBM3"), or null if
    /// unknown.</summary>
    public static double? DenseBf16Tflops(string? deviceName) =>
        deviceName is null ? null : Table.Where(e => deviceName.Contains(e.Match, StringComparison.OrdinalIgnoreCase))
            .Select(e => (double?)e.Tflops).FirstOrDefault();
}
