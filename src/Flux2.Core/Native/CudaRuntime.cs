using System.Runtime.InteropServices;

namespace Flux2.Native;

/// <summary>
/// The one CUDA runtime call NCCL setup needs that TorchSharp lacks: <c>cudaSetDevice</c>. ncclCommInitRank binds the
/// communicator to the calling thread's current device, and libtorch only switches devices inside its own ops, so each
/// rank makes <c>cuda:LOCAL_RANK</c> current first. Bound to the libcudart libtorch already loaded (read from
/// /proc/self/maps), so the versions always match.
/// </summary>
public static class CudaRuntime
{
    delegate int SetDeviceFn(int device);
    delegate IntPtr ErrorStringFn(int error);

    public static void SetDevice(int device)
    {
        var lib = LoadedLibrary("libcudart.so") ?? throw new TorchLoadException(
            "the CUDA runtime (libcudart) is not loaded in this process: " +
            "multi-GPU training needs a CUDA libtorch (environment.md).");
        var handle = NativeLibrary.Load(lib);
        var set = Marshal.GetDelegateForFunctionPointer<SetDeviceFn>(NativeLibrary.GetExport(handle, "cudaSetDevice"));
        int rc = set(device);
        if (rc != 0)
        {
            var text = Marshal.GetDelegateForFunctionPointer<ErrorStringFn>(NativeLibrary.GetExport(handle,
                "cudaGetErrorString"))(rc);
            throw new InvalidOperationException($"cudaSetDevice({device}) failed: " +
                $"{Marshal.PtrToStringAnsi(text)} (error {rc})");
        }
    }

    /// <summary>Path of the library mapped into this process whose file name starts with <paramref name="prefix"/>
    /// (e.g. "libcudart.so"), or null.</summary>
    public static string? LoadedLibrary(string prefix)
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash < 0) continue;
            var path = line[slash..];
            if (Path.GetFileName(path).StartsWith(prefix, StringComparison.Ordinal)) return path;
        }
        return null;
    }
}
