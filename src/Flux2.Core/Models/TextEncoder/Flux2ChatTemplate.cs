using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// FLUX.2's prompt → token ids (docs/flux2-model.md §4.3 steps 1–3): drop "[IMG]", render the Mistral v7 (Tekken)
/// chat form <c>&lt;s&gt;[SYSTEM_PROMPT]{system}[/SYSTEM_PROMPT][INST]{prompt}[/INST]</c> with the FLUX.2 system
/// message, tokenize (control tokens are single ids), truncate right and pad right with <c>&lt;pad&gt;</c> to 512.
/// <para>The rendering is fixed rather than interpreted from the tokenizer folder's Jinja chat template: Mistral's
/// template is a long Jinja program (dates, default system prompt, tool calls, image blocks), and for one system + one
/// user text message it produces exactly this string. When the folder has a template, <see cref="FromFolder"/> checks
/// that it is of this family (contains the [SYSTEM_PROMPT] and [INST] markers) and refuses one that is not.</para>
/// </summary>
public sealed class Flux2ChatTemplate : PromptTokenizer
{
    /// <summary>FLUX.2's system message, byte-exact (diffusers/BFL <c>system_messages.py</c>): a newline, not a space,
    /// between "object" and "attribution".</summary>
    public const string SystemMessage =
        "You are an AI that reasons about image descriptions. You give structured responses focusing on object " +
        "relationships, object\nattribution and actions without speculation.";

    public const int DefaultMaxLength = 512;
    public const int DefaultPadId = 11;
    static readonly string[] ControlTokens = { "<s>", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[INST]", "[/INST]" };

    public ByteLevelBpeTokenizer Tokenizer { get; }
    public override int PadId { get; }
    public override int MaxLength { get; }
    public string System { get; }

    /// <param name="padId">null: the tokenizer's <c>&lt;pad&gt;</c> token, else <see cref="DefaultPadId"/>.</param>
    public Flux2ChatTemplate(ByteLevelBpeTokenizer tokenizer, int? padId = null, int maxLength = DefaultMaxLength,
        string system = SystemMessage)
    {
        var missing = ControlTokens.Where(t => !tokenizer.IsAddedToken(t)).ToList();
        if (missing.Count > 0)
            throw new UserError($"the tokenizer lacks the Mistral v7 control tokens {string.Join(", ", missing)} " +
                                "(not a Tekken tokenizer?)");
        if (maxLength <= 0) throw new ArgumentOutOfRangeException(nameof(maxLength));
        Tokenizer = tokenizer;
        PadId = padId ?? tokenizer.TokenToId("<pad>") ?? DefaultPadId;
        MaxLength = maxLength;
        System = system;
    }

    /// <summary>Loads <c>tokenizer.json</c> from a FLUX.2 <c>tokenizer/</c> folder and checks its chat template
    /// (<c>chat_template.jinja</c>, <c>chat_template.json</c> or <c>tokenizer_config.json</c>
    /// "chat_template").</summary>
    /// <param name="tokenizer">The folder's tokenizer.json when the caller has read it already.</param>
    public static Flux2ChatTemplate FromFolder(string tokenizerFolder, ByteLevelBpeTokenizer? tokenizer = null,
        int? padId = null, int maxLength = DefaultMaxLength)
    {
        var path = Path.Combine(tokenizerFolder, "tokenizer.json");
        if (tokenizer is null && !File.Exists(path))
            throw new FileNotFoundException($"tokenizer.json not found in {tokenizerFolder}", path);
        var template = ReadChatTemplate(tokenizerFolder);
        if (template is not null && !(template.Contains("[SYSTEM_PROMPT]") && template.Contains("[INST]")))
            throw new UserError($"the chat template in {tokenizerFolder} is not a Mistral v7 template " +
                                "([SYSTEM_PROMPT]/[INST] not found); FLUX.2 expects Mistral-Small-3.x's tokenizer");
        return new Flux2ChatTemplate(tokenizer ?? ByteLevelBpeTokenizer.FromFile(path), padId, maxLength);
    }

    /// <summary>The chat text for one prompt (docs/flux2-model.md §4.3 steps 1–2).</summary>
    public string Render(string prompt) =>
        "<s>[SYSTEM_PROMPT]" + System + "[/SYSTEM_PROMPT][INST]" + prompt.Replace("[IMG]", "") + "[/INST]";

    /// <summary>The chat text tokenized; control tokens are single ids.</summary>
    public override int[] Tokens(string prompt) => Tokenizer.Encode(Render(prompt));
}
