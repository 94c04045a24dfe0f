using System.Security.Cryptography;
using System.Text;
using Flux2.IO;
using static TorchSharp.torch;

namespace Flux2.Training.Data;

/// <summary>
/// Prompt embeds per caption text (docs/ai-toolkit-compat.md §2.9): the text encoder is frozen, so a caption always
/// gives the same embeds for one model and tokenizer length. Kept in memory and, when <c>folder</c> is given, as
/// <c>&lt;folder&gt;/&lt;hash&gt;.safetensors</c> with the hash over (model identity, tokenizer max length, caption),
/// so a changed caption, model or length never reads a stale file. Dropped-caption and DOP preservation captions are
/// just other texts, so they get entries of their own. <c>encode</c> takes a batch of captions and returns [B, L, D]:
/// <see cref="Prefill"/> encodes many captions per call (one pass of low_vram's streamed text encoder for a batch).
/// </summary>
public sealed class TextEmbeddingCache(Func<IReadOnlyList<string>, Tensor> encode, string modelIdentity, int maxLength,
    string? folder, Device? device = null) : IDisposable
{
    readonly Dictionary<string, Tensor> memory = new(StringComparer.Ordinal);
    public int Encoded { get; private set; }
    public int ReadFromDisk { get; private set; }

    public static string Hash(string modelIdentity, int maxLength, string caption)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes($"text-embed-v1\n{modelIdentity}\n{maxLength}\n{caption}"));
        return Convert.ToHexString(bytes, 0, 16).ToLowerInvariant();
    }

    public string? DiskPath(string caption) => folder is null ? null :
        Path.Combine(folder, Hash(modelIdentity, maxLength, caption) + ".safetensors");

    /// <summary>Embeds of one caption, [1, L, D], owned by the cache (not disposed by the caller's scope).</summary>
    public Tensor this[string caption]
    {
        get
        {
            if (!memory.TryGetValue(caption, out var cached)) Prefill(new[] { caption }, 1);
            return memory[caption];
        }
    }

    /// <summary>Makes sure every caption of <paramref name="captions"/> is cached: read from disk where a file exists,
    /// the rest encoded <paramref name="batchSize"/> at a time and written to disk when there is a folder.</summary>
    public void Prefill(IEnumerable<string> captions, int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
            "batch size must be at least 1");
        var missing = new List<string>();
        foreach (var caption in captions.Distinct())
        {
            if (memory.ContainsKey(caption)) continue;
            var file = DiskPath(caption);
            if (file is not null && File.Exists(file))
            {
                using var source = SafetensorsSource.OpenFile(file);
                memory[caption] = source.Read("text_embed", device).DetachFromDisposeScope();
                ReadFromDisk++;
            }
            else missing.Add(caption);
        }
        foreach (var batch in missing.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            var embeds = encode(batch);
            if (embeds.dim() != 3 || embeds.shape[0] != batch.Length)
                throw new InvalidOperationException($"text encoder returned [{string.Join(", ", embeds.shape)}] for " +
                    $"{batch.Length} captions, expected [{batch.Length}, L, D]");
            for (int i = 0; i < batch.Length; i++)
            {
                var one = embeds[i].unsqueeze(0).contiguous();
                Encoded++;
                if (DiskPath(batch[i]) is { } file)
                {
                    Directory.CreateDirectory(folder!);
                    var tmp = file + ".tmp";
                    SafetensorsWriter.Write(tmp, new Dictionary<string, Tensor> { ["text_embed"] = one.cpu() });
                    File.Move(tmp, file, overwrite: true); // a half-written file must never look like a cache hit
                }
                memory[batch[i]] = (embeds.shape[0] == 1 ? one : one.clone()).DetachFromDisposeScope();
                // a row of its own, not a view of the batch
            }
        }
    }

    public void Dispose() { foreach (var t in memory.Values) t.Dispose(); memory.Clear(); }
}
