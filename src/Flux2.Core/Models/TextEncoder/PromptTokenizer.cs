using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// Prompt → fixed-length input_ids + attention_mask for the text encoder: tokens are truncated and right-padded to
/// <see cref="MaxLength"/> (docs/flux2-model.md §4.3 step 3). FLUX.2-dev uses <see cref="Flux2ChatTemplate"/> (Mistral
/// chat form, 512 tokens); [klein] uses <see cref="Qwen3ChatTemplate"/> (Qwen3 chat form, 512 tokens); FLUX.2-micro
/// uses <see cref="Gpt2PromptTokenizer"/> (plain GPT-2 BPE, 32 tokens).
/// </summary>
public abstract class PromptTokenizer
{
    public abstract int PadId { get; }
    public abstract int MaxLength { get; }

    /// <summary>Token ids of one prompt, before truncation and padding.</summary>
    public abstract int[] Tokens(string prompt);

    /// <summary>Ids and mask of one prompt, truncated and right-padded to <see cref="MaxLength"/>.</summary>
    public (long[] ids, long[] mask) EncodeOne(string prompt)
    {
        var tokens = Tokens(prompt);
        var n = Math.Min(tokens.Length, MaxLength);
        var ids = new long[MaxLength];
        var mask = new long[MaxLength];
        for (var i = 0; i < MaxLength; i++)
        {
            ids[i] = i < n ? tokens[i] : PadId;
            mask[i] = i < n ? 1 : 0;
        }
        return (ids, mask);
    }

    /// <summary>input_ids and attention_mask, int64 [B, MaxLength].</summary>
    public (Tensor inputIds, Tensor attentionMask) Encode(IReadOnlyList<string> prompts, Device? device = null)
    {
        if (prompts.Count == 0) throw new ArgumentException("no prompts");
        var ids = new long[prompts.Count * MaxLength];
        var mask = new long[prompts.Count * MaxLength];
        for (var b = 0; b < prompts.Count; b++)
        {
            var (i, m) = EncodeOne(prompts[b]);
            i.CopyTo(ids, b * MaxLength);
            m.CopyTo(mask, b * MaxLength);
        }
        var shape = new long[] { prompts.Count, MaxLength };
        return (tensor(ids, shape, device: device), tensor(mask, shape, device: device));
    }

    /// <summary>Reads a model's <c>tokenizer/</c> folder: a HF <c>tokenizer.json</c> (FLUX.2-dev's Mistral tokenizer,
    /// or [klein]'s Qwen tokenizer, told apart by its <c>&lt;|im_start|&gt;</c> token) or a
    /// <c>tokenizer_config.json</c> naming <c>"tokenizer_class": "gpt2-tiktoken"</c> (FLUX.2-micro).</summary>
    public static PromptTokenizer FromFolder(string folder)
    {
        var json = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(json))
        {
            var bpe = ByteLevelBpeTokenizer.FromFile(json);
            return bpe.IsAddedToken(Qwen3ChatTemplate.ImStart) ? Qwen3ChatTemplate.FromFolder(folder, bpe)
                : Flux2ChatTemplate.FromFolder(folder, bpe);
        }
        var config = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(config) && Gpt2PromptTokenizer.TryFromConfig(config) is { } gpt2) return gpt2;
        throw new FileNotFoundException($"{folder}: no tokenizer.json, and no tokenizer_config.json with " +
            $"\"tokenizer_class\": \"{Gpt2PromptTokenizer.ClassName}\"");
    }

    /// <summary>The Jinja chat template of a tokenizer folder (<c>chat_template.jinja</c>, <c>chat_template.json</c> or
    /// <c>tokenizer_config.json</c> "chat_template"), or null when it has none.</summary>
    protected static string? ReadChatTemplate(string folder)
    {
        var jinja = Path.Combine(folder, "chat_template.jinja");
        if (File.Exists(jinja)) return File.ReadAllText(jinja);
        foreach (var name in new[] { "chat_template.json", "tokenizer_config.json" })
        {
            var p = Path.Combine(folder, name);
            if (!File.Exists(p)) continue;
            switch (JsonNode.Parse(File.ReadAllText(p))?["chat_template"])
            {
                case JsonValue v: return v.GetValue<string>();
                case JsonArray a: return string.Concat(a.Select(n => n?["template"]?.GetValue<string>()));
            }
        }
        return null;
    }
}
