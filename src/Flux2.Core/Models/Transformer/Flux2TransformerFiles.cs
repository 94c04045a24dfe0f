using Flux2.IO;
using Flux2.Nn;
using Flux2.Nn.Quantization;
using static TorchSharp.torch;

namespace Flux2.Models.Transformer;

/// <summary>Loads a <see cref="Flux2Transformer"/> from files: a diffusers <c>transformer/</c> folder or a BFL single
/// file.</summary>
public static class Flux2TransformerFiles
{
    /// <summary>Loads a diffusers <c>transformer/</c> folder (config.json + safetensors, sharded or not); with
    /// <paramref name="quant"/>, quantized while loading (see <see cref="Flux2Transformer"/>'s remarks).</summary>
    public static Flux2Transformer FromFolder(string folder, Device? device = null, ScalarType? dtype = null,
                                              QuantType? quant = null)
        => FromCheckpoint(folder, FolderConfig(folder), device, dtype, quant);

    /// <summary>The <c>config.json</c> of a diffusers <c>transformer/</c> folder.</summary>
    public static TransformerConfig FolderConfig(string folder)
    {
        var configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"transformer config not found: {configPath}", configPath);
        return TransformerConfig.FromJson(configPath);
    }

    /// <summary>Loads weights in either layout (diffusers, or a BFL single file such as <c>flux2-dev.safetensors</c>,
    /// whose keys are mapped on the fly) into a model built from <paramref name="config"/>.</summary>
    public static Flux2Transformer FromCheckpoint(string path, TransformerConfig config, Device? device = null,
                                                  ScalarType? dtype = null, QuantType? quant = null)
    {
        using var source = TransformerCheckpoint.Open(path);
        var model = new Flux2Transformer(config, device, dtype, quant);
        try { ModuleLoader.Load(model, source); }
        catch { model.Dispose(); throw; }
        return model;
    }
}
