using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// A module whose weights live in CPU memory, on the device only while one piece of it computes: low_vram's text
/// encoder runs one decoder layer at a time this way (<see cref="Pipeline.Flux2Models.InUse"/>), so encoding prompts
/// next to a loaded transformer takes one layer of GPU memory (~0.6 GiB in fp8 for Mistral-Small) instead of the whole
/// encoder (18.6 GiB in fp8, 33 GiB in bf16). The piece is moved with <c>Module.to</c>, which re-points its fields;
/// libtorch refuses to swap a CPU tensor's storage for a GPU one in place (<c>set_</c> across devices), so the weights
/// travel back to CPU memory afterwards rather than being put back. Copies run on the compute stream, no overlap.
/// </summary>
public static class StreamedToDevice
{
    /// <summary>Moves <paramref name="module"/> to <paramref name="device"/> until disposed, then back to the device
    /// its weights were on. Null when it is already there.</summary>
    public static IDisposable? While(nn.Module module, Device device)
    {
        var first = module.parameters().Select(p => (Tensor)p).Concat(module.buffers()).FirstOrDefault();
        if (first is null || Same(first.device, device)) return null;
        var home = first.device;
        module.to(device);
        var onDevice = module.parameters().Select(p => (Tensor)p).Concat(module.buffers()).ToList();
        return new Undo(() =>
        {
            module.to(home);
            // The device copies are unreachable now; freeing them here rather than at the next garbage collection keeps
            // the GPU at one layer (Dispose is idempotent if TorchSharp's Module.to already did it).
            foreach (var t in onDevice) t.Dispose();
        });
    }

    static bool Same(Device a, Device b) =>
        a.type == b.type && (a.type == DeviceType.CPU || Math.Max(0, a.index) == Math.Max(0, b.index));
}
