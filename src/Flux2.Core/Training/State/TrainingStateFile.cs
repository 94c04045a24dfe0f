using System.Globalization;
using System.Text.RegularExpressions;
using Flux2.IO;

namespace Flux2.Training.State;

/// <summary>
/// The state file that sits next to each LoRA checkpoint: <c>&lt;lora stem&gt;.state.safetensors</c> (e.g.
/// <c>my_lora_000000250.state.safetensors</c>, <c>my_lora.state.safetensors</c> for the final save). A plain safetensors
/// file: the tensors of <see cref="TrainingState"/> by name, its JSON values as header metadata plus
/// <c>format = flux2-training-state/1</c>. Written atomically (temp file + rename) by <see cref="SafetensorsWriter"/>.
/// </summary>
public static class TrainingStateFile
{
    public const string Extension = ".state.safetensors";
    public const string FormatKey = "format";
    public const string Format = "flux2-training-state/1";

    /// <summary>The state path belonging to a LoRA file path.</summary>
    public static string PathFor(string loraPath) =>
        Path.Combine(Path.GetDirectoryName(loraPath) ?? "", Path.GetFileNameWithoutExtension(loraPath) + Extension);

    public static void Write(string path, TrainingState state)
    {
        var meta = new Dictionary<string, string>(state.Values) { [FormatKey] = Format };
        SafetensorsWriter.Write(path, state.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal), meta);
    }

    public static TrainingState Read(string path)
    {
        using var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue(FormatKey, out var format) || format != Format)
            throw new InvalidDataException($"{path}: not a training-state file (format '{format}', expected '{Format}')");
        var state = new TrainingState();
        foreach (var (k, v) in file.Metadata) if (k != FormatKey) state.Values[k] = v;
        foreach (var key in file.Keys) state.Tensors[key] = file.Read(key);
        return state;
    }

    /// <summary>The state file with the highest step among <paramref name="name"/>'s step and final saves in
    /// <paramref name="folder"/>, or null. The step comes from the header, so a final file is ranked correctly.</summary>
    public static (string Path, int Step)? FindLatest(string folder, string name)
    {
        if (!Directory.Exists(folder)) return null;
        var pattern = new Regex("^" + Regex.Escape(name) + @"(_\d{9})?" + Regex.Escape(Extension) + "$");
        (string, int)? best = null;
        foreach (var f in Directory.EnumerateFiles(folder).Where(f => pattern.IsMatch(Path.GetFileName(f))))
        {
            int step;
            try
            {
                using var file = SafetensorsFile.Open(f);
                step = int.Parse(file.Metadata["step"], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is SafetensorsException or KeyNotFoundException or FormatException or IOException)
            {
                continue; // unreadable: an older checkpoint will do
            }
            if (best is null || step > best.Value.Item2) best = (f, step);
        }
        return best;
    }
}
