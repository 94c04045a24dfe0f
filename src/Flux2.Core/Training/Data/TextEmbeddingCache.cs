using System.Security.Cryptography;
using System.Text;
using Flux2.IO;
using static TorchSharp.torch;

namespace Flux2.Training.Data;

/// <summary>
/// Prompt embeds per caption text (ai-toolkit.md §2.9): the text encoder is frozen, so a caption always gives the same
/// embeds for one model and tokenizer length. Kept in memory and, when <c>folder</c> is given, as
/// <c>&lt;folder&gt;/&lt;hash&gt;.safetensors</c> with the hash over (model identity, tokenizer max length, caption), so a
/// changed caption, model or length never reads a stale file. Dropped-caption and DOP preservation captions are just
/// other texts, so they get entries of their own.
/// </summary>
public sealed class TextEmbeddingCache(Func<string, Tensor> encode, string modelIdentity, int maxLength, string? folder, Device? device = null) : IDisposable
{
    readonly Dictionary<string, Tensor> memory = new(StringComparer.Ordinal);
    public int Encoded { get; private set; }
    public int ReadFromDisk { get; private set; }

    public static string Hash(string modelIdentity, int maxLength, string caption)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes($"text-embed-v1\n{modelIdentity}\n{maxLength}\n{caption}"));
        return Convert.ToHexString(bytes, 0, 16).ToLowerInvariant();
    }

    public string? DiskPath(string caption) => folder is null ? null : Path.Combine(folder, Hash(modelIdentity, maxLength, caption) + ".safetensors");

    /// <summary>Embeds of one caption, [1, L, D], owned by the cache (not disposed by the caller's scope).</summary>
    public Tensor this[string caption]
    {
        get
        {
            if (memory.TryGetValue(caption, out var cached)) return cached;
            using var scope = NewDisposeScope();
            Tensor embeds;
            var file = DiskPath(caption);
            if (file is not null && File.Exists(file))
            {
                using var source = SafetensorsSource.OpenFile(file);
                embeds = source.Read("text_embed", device);
                ReadFromDisk++;
            }
            else
            {
                embeds = encode(caption);
                Encoded++;
                if (file is not null)
                {
                    Directory.CreateDirectory(folder!);
                    var tmp = file + ".tmp";
                    SafetensorsWriter.Write(tmp, new Dictionary<string, Tensor> { ["text_embed"] = embeds.cpu() });
                    File.Move(tmp, file, overwrite: true); // a half-written file must never look like a cache hit
                }
            }
            embeds = embeds.DetachFromDisposeScope();
            memory[caption] = embeds;
            return embeds;
        }
    }

    public void Dispose() { foreach (var t in memory.Values) t.Dispose(); memory.Clear(); }
}
