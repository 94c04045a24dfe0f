using Flux2.Nn.Offload;
using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.Transformer;

/// <summary>Layer offloading (<see cref="BlockOffloader"/>) applied to a <see cref="Flux2Transformer"/>: its blocks,
/// its device, its block runner.</summary>
public static class TransformerOffloading
{
    /// <summary><see cref="BlockOffloader.Attach"/> for <paramref name="model"/>'s blocks (double-stream, then
    /// single-stream), installed in its <see cref="Flux2Transformer.Runner"/>.</summary>
    public static BlockOffloader Attach(Flux2Transformer model, double percent, int slotsPerLayout = 2,
                                        bool measureCopies = false)
    {
        BlockOffloader.RequireCuda(model.Device);
        return BlockOffloader.Attach(model.Runner, model, model.Blocks, model.Device, percent, slotsPerLayout,
                                     measureCopies);
    }

    /// <summary>
    /// A transformer whose offloaded blocks never exist on the GPU whole (FLUX.2-dev on a 24 GB card): the resident
    /// parts are built on <paramref name="device"/>, the blocks that <see cref="OffloadPlan.ChooseBlocks"/> picks for
    /// <paramref name="percent"/> in CPU memory (untouched <c>torch.empty</c> pages, <see cref="HostBlocks"/>), then
    /// <see cref="Attach"/> gives them pinned buffers, and <paramref name="fill"/> writes the weights, e.g.
    /// <c>RandomInit.Apply(model, seed, offloader)</c> or <c>ModuleLoader.Load(model, source, offloaded:
    /// offloader)</c>, which fill each offloaded block in a GPU slot (<see cref="BlockOffloader.Fill"/>). Peak GPU
    /// memory: resident weights + slots + the fill's temporaries of one layer. On failure everything built is disposed.
    /// </summary>
    public static (Flux2Transformer Model, BlockOffloader Offloader) Build(
        TransformerConfig config, Device device, ScalarType? dtype, QuantType? quant, double percent,
        Action<Flux2Transformer, BlockOffloader> fill, int slotsPerLayout = 2)
    {
        BlockOffloader.RequireCuda(device);
        var host = OffloadPlan.ChooseBlocks(config.NumLayers + config.NumSingleLayers, percent);
        var model = new Flux2Transformer(config, device, dtype, quant, HostBlocks(config, host));
        BlockOffloader? offloader = null;
        try
        {
            offloader = Attach(model, percent, slotsPerLayout);
            fill(model, offloader);
            offloader.RequireFilled();
            CachedGpuMemory.Release(device); // the fills' float temporaries
            return (model, offloader);
        }
        catch
        {
            offloader?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>The <c>blockDevice</c> argument of <see cref="Flux2Transformer"/>'s constructor that builds blocks
    /// <paramref name="blocks"/> (numbered double-stream, then single-stream) in CPU memory: layer offloading's blocks,
    /// which reach the GPU only one at a time through its slots.</summary>
    public static Func<int, Device?> HostBlocks(TransformerConfig config, IReadOnlyCollection<int> blocks)
    {
        int count = config.NumLayers + config.NumSingleLayers;
        if (blocks.Any(i => i < 0 || i >= count))
            throw new ArgumentOutOfRangeException(nameof(blocks),
                $"host blocks [{string.Join(",", blocks)}]: the model has blocks 0..{count - 1}");
        return i => blocks.Contains(i) ? CPU : null;
    }

    /// <summary>Parameters of the whole model, layer offloading's blocks included (their sizes come from the
    /// offloader: between uses their tensors are empty placeholders).</summary>
    public static long ParameterCount(this Flux2Transformer model) =>
        model.Runner.Residency is BlockOffloader offloader ? offloader.ParameterCount(model)
                                                           : model.parameters().Sum(p => p.numel());
}
