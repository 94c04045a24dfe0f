using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Flux2.Native;

/// <summary>
/// The address of a tensor's first element (libtorch <c>Tensor::data_ptr()</c>, storage offset included), for C APIs
/// that take raw device or host pointers: the driver-API copies of layer offloading, NCCL's collectives.
/// TorchSharp 0.107 has it only internally (<c>THSTensor_data</c> in libLibTorchSharp), so the export is looked up in
/// the already-loaded bridge library by its soname.
/// </summary>
public static class TensorPointer
{
    static IntPtr dataFn;

    public static unsafe IntPtr Of(Tensor t)
    {
        if (!t.is_contiguous())
            throw new ArgumentException("a raw pointer covers a tensor's elements only when it " +
                "is contiguous; this one is not");
        if (dataFn == IntPtr.Zero)
        {
            if (!NativeLibrary.TryLoad("libLibTorchSharp.so", out var lib))
                throw new InvalidOperationException("libLibTorchSharp.so is not loaded (run a torch operation first)");
            dataFn = NativeLibrary.GetExport(lib, "THSTensor_data");
        }
        return ((delegate* unmanaged<IntPtr, IntPtr>)dataFn)(t.Handle);
    }

    public static long Bytes(Tensor t) => t.numel() * t.element_size();
}
