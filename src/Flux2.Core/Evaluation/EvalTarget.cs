using System.Text.Json;
using System.Text.Json.Serialization;
using Flux2.IO;
using Flux2.Training.Config;

namespace Flux2.Evaluation;

/// <summary>
/// What <c>./flux2 eval</c> was pointed at: a run folder (its final <c>&lt;name&gt;.safetensors</c>, else the newest
/// LoRA file in it) or a LoRA file. The trainer records the job's config in each LoRA's metadata (key
/// <c>config</c>, see <see cref="Training.Network.LoraCheckpoint.Metadata"/>), so model, dataset, trigger and sample
/// settings come from there; <see cref="Process"/> is null for a LoRA from elsewhere (then the caller must say them).
/// </summary>
public sealed record EvalTarget(string LoraPath, string OutputFolder, ProcessConfig? Process)
{
    public static EvalTarget Resolve(string path)
    {
        string lora = Directory.Exists(path) ? FindLora(path)
            : File.Exists(path) ? path
            : throw new FileNotFoundException($"neither a run folder nor a LoRA file: {path}");
        return new EvalTarget(lora, Path.GetDirectoryName(Path.GetFullPath(lora))!, ReadProcess(lora));
    }

    static string FindLora(string folder)
    {
        var named = Path.Combine(folder, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)))
            + ".safetensors");
        if (File.Exists(named)) return named;
        return Directory.EnumerateFiles(folder, "*.safetensors").OrderByDescending(File.GetLastWriteTimeUtc)
            .ThenByDescending(f => f, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new FileNotFoundException($"{folder}: no .safetensors LoRA file in this run folder");
    }

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>The job's first process from the LoRA's <c>config</c> metadata, or null when absent or unreadable
    /// (a LoRA written by another tool).</summary>
    public static ProcessConfig? ReadProcess(string loraPath)
    {
        using var file = SafetensorsFile.Open(loraPath);
        if (!file.Metadata.TryGetValue("config", out var config)) return null;
        try { return JsonSerializer.Deserialize<JobSection>(config, Json)?.Process.FirstOrDefault(); }
        catch (JsonException) { return null; }
    }
}
