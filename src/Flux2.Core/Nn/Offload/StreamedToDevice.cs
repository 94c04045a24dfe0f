using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// A module whose weights live in CPU memory, on the device only while one piece of it computes: low_vram's text
/// encoder runs one decoder layer at a time this way (<see cref="Pipeline.Flux2Models.InUse"/>), so encoding prompts
/// next to a loaded transformer takes one layer of GPU memory (~0.6 GiB in fp8 for Mistral-Small) instead of the whole
/// encoder (18.6 GiB in fp8, 33 GiB in bf16). Each tensor's storage is swapped in place (<c>Tensor.set_</c>, as layer
/// offloading does), so the module and its fields never change; the CPU storage is kept and put back, so nothing is
/// copied back to the host. Copies run on the compute stream: no overlap, no extra ordering needed.
/// </summary>
public static class StreamedToDevice
{
    /// <summary>Copies <paramref name="module"/>'s parameters and buffers to <paramref name="device"/> until disposed
    /// (then the CPU storage is back and the device copies are freed). Null when already there.</summary>
    public static IDisposable? While(nn.Module module, Device device)
    {
        var tensors = module.parameters().Select(p => (Tensor)p).Concat(module.buffers()).ToList();
        if (tensors.Count == 0 || tensors.All(t => Same(t.device, device))) return null;
        using var _ = no_grad();
        var host = new List<Tensor>(tensors.Count);
        var onDevice = new List<Tensor>(tensors.Count);
        try
        {
            foreach (var t in tensors)
            {
                host.Add(t.detach().DetachFromDisposeScope());                      // keeps the CPU storage alive
                onDevice.Add(t.to(device).DetachFromDisposeScope());
                Swap(t, onDevice[^1]);
            }
        }
        catch
        {
            Restore(tensors, host, onDevice);
            throw;
        }
        return new Undo(() => Restore(tensors, host, onDevice));
    }

    static bool Same(Device a, Device b) =>
        a.type == b.type && (a.type == TorchSharp.DeviceType.CPU || Math.Max(0, a.index) == Math.Max(0, b.index));

    static void Restore(List<Tensor> tensors, List<Tensor> host, List<Tensor> onDevice)
    {
        using var _ = no_grad();
        for (int i = 0; i < host.Count; i++) Swap(tensors[i], host[i]);
        foreach (var t in host.Concat(onDevice)) t.Dispose();
    }

    static void Swap(Tensor t, Tensor storage)
    {
        var r = t.set_(storage);
        if (!ReferenceEquals(r, t)) r.Dispose(); // TorchSharp returns a new handle to the same tensor
    }

    sealed class Undo(Action undo) : IDisposable
    {
        Action? pending = undo;
        public void Dispose() { pending?.Invoke(); pending = null; }
    }
}
