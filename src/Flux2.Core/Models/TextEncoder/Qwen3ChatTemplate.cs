using System.Text.Json.Nodes;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// FLUX.2 [klein]'s prompt → token ids, as diffusers' <c>Flux2KleinPipeline</c>: the prompt as the one user
/// message of Qwen3's chat template with the generation prompt and thinking disabled (<see cref="Render"/>:
/// <c>&lt;|im_start|&gt;user\n{prompt}&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n</c> then
/// <c>&lt;think&gt;\n\n&lt;/think&gt;\n\n</c>; no system message, no BOS), tokenized with the Qwen byte-level
/// BPE (the chat markers and <c>&lt;think&gt;</c> are single added-token ids), truncated right and padded right with
/// the tokenizer's pad token (<c>&lt;|endoftext|&gt;</c>) to 512.
/// <para>The rendering is fixed rather than interpreted from the folder's Jinja template: for one user message with
/// <c>add_generation_prompt=True, enable_thinking=False</c>, Qwen3's template produces exactly this string. When the
/// folder has a template, <see cref="FromFolder"/> checks that it is Qwen3's kind (the <c>&lt;|im_start|&gt;</c>
/// markers and the <c>enable_thinking</c> switch) and refuses another one (Qwen2.5's, for one, adds a default system
/// message).</para>
/// </summary>
public sealed class Qwen3ChatTemplate : PromptTokenizer
{
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";
    public const string EndOfText = "<|endoftext|>";
    public const int DefaultMaxLength = 512;
    static readonly string[] ChatTokens = { ImStart, ImEnd, "<think>", "</think>" };

    public ByteLevelBpeTokenizer Tokenizer { get; }
    public override int PadId { get; }
    public override int MaxLength { get; }

    /// <param name="padToken">null: <c>&lt;|endoftext|&gt;</c>, Qwen3's pad token.</param>
    public Qwen3ChatTemplate(ByteLevelBpeTokenizer tokenizer, string? padToken = null,
        int maxLength = DefaultMaxLength)
    {
        var missing = ChatTokens.Where(t => !tokenizer.IsAddedToken(t)).ToList();
        if (missing.Count > 0)
            throw new UserError($"the tokenizer lacks the Qwen3 chat tokens {string.Join(", ", missing)} " +
                                "(not a Qwen3 tokenizer?)");
        if (maxLength <= 0) throw new ArgumentOutOfRangeException(nameof(maxLength));
        Tokenizer = tokenizer;
        var pad = padToken ?? EndOfText;
        PadId = tokenizer.TokenToId(pad)
            ?? throw new UserError($"the tokenizer has no pad token '{pad}' (Qwen3 pads with {EndOfText})");
        MaxLength = maxLength;
    }

    /// <summary>Builds from a [klein] <c>tokenizer/</c> folder: tokenizer.json (read here unless given), the pad
    /// token named by tokenizer_config.json <c>pad_token</c> when present, and the chat-template check.</summary>
    public static Qwen3ChatTemplate FromFolder(string tokenizerFolder, ByteLevelBpeTokenizer? tokenizer = null,
        int maxLength = DefaultMaxLength)
    {
        var path = Path.Combine(tokenizerFolder, "tokenizer.json");
        if (tokenizer is null && !File.Exists(path))
            throw new FileNotFoundException($"tokenizer.json not found in {tokenizerFolder}", path);
        var template = ReadChatTemplate(tokenizerFolder);
        if (template is not null && !(template.Contains(ImStart) && template.Contains("enable_thinking")))
            throw new UserError($"the chat template in {tokenizerFolder} is not a Qwen3 template (<|im_start|> or " +
                                "enable_thinking not found); FLUX.2 [klein] expects Qwen3's tokenizer");
        return new Qwen3ChatTemplate(tokenizer ?? ByteLevelBpeTokenizer.FromFile(path), PadToken(tokenizerFolder),
            maxLength);
    }

    /// <summary>tokenizer_config.json <c>pad_token</c>: a string or an added-token object with <c>content</c>; null
    /// when absent.</summary>
    static string? PadToken(string folder)
    {
        var path = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        return JsonNode.Parse(File.ReadAllText(path))?["pad_token"] switch
        {
            JsonValue v => v.GetValue<string>(),
            JsonObject o => o["content"]?.GetValue<string>(),
            _ => null,
        };
    }

    /// <summary>The chat text for one prompt.</summary>
    public static string Render(string prompt) =>
        ImStart + "user\n" + prompt + ImEnd + "\n" + ImStart + "assistant\n<think>\n\n</think>\n\n";

    public override int[] Tokens(string prompt) => Tokenizer.Encode(Render(prompt));
}
