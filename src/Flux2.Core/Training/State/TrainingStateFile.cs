using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Flux2.IO;

namespace Flux2.Training.State;

/// <summary>
/// The state file that sits next to each LoRA checkpoint: <c>&lt;lora stem&gt;.state.safetensors</c> (e.g.
/// <c>my_lora_000000250.state.safetensors</c>, <c>my_lora.state.safetensors</c> for the final save). A plain
/// safetensors file: the tensors of <see cref="TrainingState"/> by name, its JSON values as header metadata plus
/// <c>format = flux2-training-state/1</c> and a <c>checksum</c> of the tensor bytes. Written atomically (temp file +
/// rename) by <see cref="SafetensorsWriter"/>; only finite states are written, and reading checks both again.
/// </summary>
public static class TrainingStateFile
{
    public const string Extension = ".state.safetensors";
    public const string FormatKey = "format";
    public const string Format = "flux2-training-state/1";

    /// <summary>The state path belonging to a LoRA file path.</summary>
    public static string PathFor(string loraPath) =>
        Path.Combine(Path.GetDirectoryName(loraPath) ?? "", Path.GetFileNameWithoutExtension(loraPath) + Extension);

    /// <summary>The LoRA path belonging to a state path (the inverse of <see cref="PathFor"/>).</summary>
    public static string LoraPathFor(string statePath) => statePath[..^Extension.Length] + ".safetensors";

    /// <summary>Header key of the SHA-256 of every tensor's bytes in key order (files written before it existed have
    /// none and are only checked for finite values).</summary>
    public const string ChecksumKey = "checksum";

    /// <summary>Writes <paramref name="state"/>; refuses (<see cref="InvalidDataException"/>) a state with a NaN or
    /// infinite value, so a run never leaves a checkpoint it could not resume from.</summary>
    public static void Write(string path, TrainingState state)
    {
        var sorted = state.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        if (NonFinite(state) is string bad)
            throw new InvalidDataException($"{path}: not written: tensor '{bad}' has NaN or infinite values");
        var meta = new Dictionary<string, string>(state.Values)
        {
            [FormatKey] = Format,
            [ChecksumKey] = Checksum(sorted.Select(kv => kv.Value)),
        };
        SafetensorsWriter.Write(path, sorted, meta);
    }

    /// <summary>Reads a state file whole; throws <see cref="InvalidDataException"/> naming the file and the problem
    /// when it is not a training state, its bytes do not match its checksum, or a value is NaN or infinite.</summary>
    public static TrainingState Read(string path)
    {
        using var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue(FormatKey, out var format) || format != Format)
            throw new InvalidDataException($"{path}: not a training-state file (format " +
                $"'{format}', expected '{Format}')");
        var state = new TrainingState();
        try
        {
            foreach (var (k, v) in file.Metadata)
            {
                if (k is FormatKey or ChecksumKey) continue;
                if (!IsJson(v))
                    throw new InvalidDataException($"{path}: value '{k}' in the header is not valid JSON (the file " +
                                                   "is damaged)");
                state.Values[k] = v;
            }
            foreach (var key in file.Keys.Order(StringComparer.Ordinal)) state.Tensors[key] = file.Read(key);
            var sorted = state.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value);
            if (file.Metadata.TryGetValue(ChecksumKey, out var expected) && Checksum(sorted) != expected)
                throw new InvalidDataException($"{path}: the tensor data does not match the file's checksum " +
                                               "(the file is damaged)");
            if (NonFinite(state) is string bad)
                throw new InvalidDataException($"{path}: tensor '{bad}' has NaN or infinite values");
            _ = state.Step;
        }
        catch { state.Dispose(); throw; }
        return state;
    }

    static bool IsJson(string text)
    {
        try { System.Text.Json.JsonDocument.Parse(text).Dispose(); return true; }
        catch (System.Text.Json.JsonException) { return false; }
    }

    /// <summary>The first floating-point tensor of <paramref name="state"/> (by key) with a NaN or infinite value, or
    /// null.</summary>
    public static string? NonFinite(TrainingState state)
    {
        foreach (var (key, t) in state.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!t.is_floating_point()) continue;
            using var finite = TorchSharp.torch.isfinite(t).all();
            if (!finite.item<bool>()) return key;
        }
        return null;
    }

    /// <summary>SHA-256 over the bytes of <paramref name="tensors"/> (CPU, contiguous), in the given order.</summary>
    static string Checksum(IEnumerable<TorchSharp.torch.Tensor> tensors)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tensors)
        {
            using var c = t.contiguous();
            sha.AppendData(c.bytes);
        }
        return "sha256:" + Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>The step and final states of <paramref name="name"/> in <paramref name="folder"/>, highest step first;
    /// a file whose header cannot be read comes first with the reason (<c>Problem</c>) instead of a step. The step
    /// comes from the header, so a final file is ranked correctly.</summary>
    public static IReadOnlyList<(string Path, int Step, string? Problem)> Candidates(string folder, string name)
    {
        if (!Directory.Exists(folder)) return Array.Empty<(string, int, string?)>();
        var pattern = new Regex("^" + Regex.Escape(name) + @"(_\d{9})?" + Regex.Escape(Extension) + @"\z");
        var found = new List<(string Path, int Step, string? Problem)>();
        var files = Directory.EnumerateFiles(folder).Where(f => pattern.IsMatch(Path.GetFileName(f)));
        foreach (var f in files.Order(StringComparer.Ordinal))
        {
            try
            {
                using var file = SafetensorsFile.Open(f);
                found.Add((f, int.Parse(file.Metadata["step"], CultureInfo.InvariantCulture), null));
            }
            catch (Exception e) when (e is SafetensorsException or KeyNotFoundException or FormatException
                                          or OverflowException or IOException or UnauthorizedAccessException)
            {
                var problem = e is KeyNotFoundException ? "no step in the header" : e.Message.Replace(f + ": ", "");
                found.Add((f, int.MaxValue, problem));
            }
        }
        return found.OrderByDescending(c => c.Step).ToList();
    }
}
