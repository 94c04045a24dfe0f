using Flux2.Pipeline;
using Flux2.Training.Config;
using static TorchSharp.torch;

namespace Flux2.Training.Data;

/// <summary>
/// Whether prompt embeds may be cached for a job (guide and docs/ai-toolkit-compat.md §2.9), saying why when not or
/// with what effect. shuffle_tokens makes a new caption text almost every step, so caching would only fill memory and
/// disk: off. Caption dropout only adds one more text (the trigger alone) and DOP one per preservation caption; those
/// are cached as entries of their own, so the cache stays on and the captions stay exactly what they would be uncached.
/// </summary>
public static class TextCachePolicy
{
    /// <summary>Null (encode every step) or the cache; prints its decision through <paramref name="log"/>.</summary>
    public static TextEmbeddingCache? Create(Flux2Models models, ProcessConfig p, string runFolder, Device device,
        Action<string>? log)
    {
        var (on, message) = Decide(p);
        if (message is not null) log?.Invoke(message);
        if (!on) return null;
        var folder = p.Train.CacheTextEmbeddings ? Path.Combine(runFolder, "_text_embed_cache") : null;
        if (folder is not null) log?.Invoke($"text embeddings cached on disk in {folder}");
        return new TextEmbeddingCache(models.EncodePrompts, models.Origin, models.Tokenizer.MaxLength, folder, device);
    }

    public static (bool on, string? message) Decide(ProcessConfig p)
    {
        if (p.Train.UnloadTextEncoder)
            return (true, "text-embedding cache on: with unload_text_encoder the captions are fixed");
        var shuffled = p.Datasets.Where(d => d.ShuffleTokens).Select(d => d.FolderPath).ToList();
        if (shuffled.Count > 0)
            return (false,
                $"text-embedding cache off: shuffle_tokens in {string.Join(", ", shuffled)} gives a new caption text " +
                $"each step"
                + (p.Train.CacheTextEmbeddings ? " (train.cache_text_embeddings is ignored)" : ""));
        var notes = new List<string>();
        if (p.Datasets.Any(d => d.CaptionDropoutRate > 0))
            notes.Add("caption dropout: the dropped caption (trigger only) is cached as its own entry");
        if (p.Train.DiffOutputPreservation)
            notes.Add("DOP: the preservation captions are cached as separate entries");
        if (p.Train.BlankPromptPreservation)
            notes.Add("blank prompt preservation: the empty prompt is cached as its own entry");
        return (true, notes.Count == 0 ? null : "text-embedding cache on; " + string.Join("; ", notes));
    }
}
