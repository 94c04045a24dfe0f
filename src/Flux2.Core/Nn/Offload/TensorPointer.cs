using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// The address of a tensor's first element (libtorch <c>Tensor::data_ptr()</c>), which the driver-API copies need.
/// TorchSharp 0.107 has it only internally (<c>THSTensor_data</c> in libLibTorchSharp), so the export is looked up in
/// the already-loaded bridge library by its soname.
/// </summary>
static class TensorPointer
{
    static IntPtr dataFn;

    public static unsafe IntPtr Of(Tensor t)
    {
        if (!t.is_contiguous()) throw new ArgumentException("layer offloading copies whole tensors as bytes; the tensor must be contiguous");
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
