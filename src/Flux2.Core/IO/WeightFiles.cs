namespace Flux2.IO;

/// <summary>
/// Finds the weights of one model component (a folder such as <c>transformer/</c>, or a file) and opens them.
/// Order inside a folder: a <c>*.safetensors.index.json</c> (sharded), then <c>diffusion_pytorch_model.safetensors</c>
/// (diffusers models), <c>model.safetensors</c> (transformers models), then a lone <c>*.safetensors</c>.
/// Pickle checkpoints are never opened: unpickling can run arbitrary code.
/// </summary>
public static class WeightFiles
{
    public static readonly string[] PickleExtensions = [".bin", ".pt", ".pth", ".ckpt", ".pkl"];
    static readonly string[] PreferredIndexes = ["diffusion_pytorch_model.safetensors.index.json",
        "model.safetensors.index.json"];
    static readonly string[] PreferredFiles = ["diffusion_pytorch_model.safetensors", "model.safetensors"];

    /// <summary>Opens the weights found at <paramref name="path"/> (file or folder).</summary>
    public static SafetensorsSource Open(string path)
    {
        var found = Locate(path);
        return found.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase)
            ? SafetensorsSource.OpenIndex(found) : SafetensorsSource.OpenFile(found);
    }

    /// <summary>The file to open: an index or a single safetensors file. Throws <see cref="PickleRefusedException"/>
    /// for pickle files and a <see cref="FileNotFoundException"/> naming what was looked for when nothing
    /// fits.</summary>
    public static string Locate(string path)
    {
        if (File.Exists(path)) return CheckFile(path);
        if (!Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder", path);

        var indexes = Directory.GetFiles(path, "*.safetensors.index.json").Order(StringComparer.Ordinal).ToList();
        if (indexes.Count > 0) return PickPreferred(path, indexes, PreferredIndexes, "index files");

        var singles = Directory.GetFiles(path, "*.safetensors").Order(StringComparer.Ordinal).ToList();
        if (singles.Count > 0) return PickPreferred(path, singles, PreferredFiles,
            "safetensors files (shards without their .index.json?)");

        var pickles = Directory.GetFiles(path).Where(IsPickle).Order(StringComparer.Ordinal).ToList();
        if (pickles.Count > 0) throw new PickleRefusedException(path, pickles.Select(Path.GetFileName).ToList()!);
        throw new FileNotFoundException(
            $"{path}: no weights found (looked for *.safetensors.index.json, {string.Join(", ", PreferredFiles)}, " +
            $"*.safetensors)", path);
    }

    public static bool IsPickle(string file) =>
        PickleExtensions.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase);

    static string CheckFile(string file)
    {
        // Decided by name, before a single byte is read: reading is where a pickle would run its code.
        if (IsPickle(file)) throw new PickleRefusedException(file, [Path.GetFileName(file)]);
        if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
            || file.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase)) return file;
        throw new UserError($"{file}: not a weights file this kit reads (expected .safetensors or " +
                            ".safetensors.index.json)");
    }

    static string PickPreferred(string folder, List<string> candidates, string[] preferred, string what)
    {
        foreach (var name in preferred)
            if (candidates.FirstOrDefault(c => Path.GetFileName(c) == name) is { } hit) return hit;
        if (candidates.Count == 1) return candidates[0];
        throw new InvalidOperationException(
            $"{folder}: several {what} and none of the standard names ({string.Join(", ", preferred)}): "
            + string.Join(", ", candidates.Select(Path.GetFileName)) + ". Pass the file to use directly.");
    }
}

/// <summary>Raised instead of loading a pickle checkpoint.</summary>
public sealed class PickleRefusedException(string path, IReadOnlyList<string> files) : Exception(
    $"{path}: refusing to load {string.Join(", ", files)}. Files ending in " +
    $"{string.Join("/", WeightFiles.PickleExtensions)} are "
    + "Python pickles, and loading a pickle can execute arbitrary code hidden in the file. Download the .safetensors "
    + "version of these weights instead (most Hugging Face repos publish one), or convert the file once yourself in a "
    + "sandboxed Python environment you trust (torch.load(..., weights_only=True), then safetensors.torch.save_file).")
{
    public IReadOnlyList<string> Files { get; } = files;
}
