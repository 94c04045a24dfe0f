namespace Flux2.IO;

/// <summary>Finds the weights of one model component folder (placeholder until the IO branch lands the full rules).</summary>
public static class WeightFiles
{
    public static SafetensorsSource Open(string folder)
    {
        var files = Directory.GetFiles(folder, "*.safetensors");
        if (files.Length == 0) throw new FileNotFoundException($"no .safetensors weights in {folder}");
        return new SafetensorsSource(folder, files);
    }

    public static void RefusePickle(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".pt" or ".pth" or ".ckpt" or ".bin")
            throw new InvalidDataException($"{path}: pickle files are refused (loading them can run arbitrary code); use a .safetensors file");
    }
}
