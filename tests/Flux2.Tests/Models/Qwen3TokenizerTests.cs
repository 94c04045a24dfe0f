using System.Text.Json.Nodes;
using Flux2.Models.TextEncoder;
using Xunit;

namespace Flux2.Tests.Models;

/// <summary>FLUX.2 [klein]'s prompt tokens: a small tokenizer.json written here in Qwen's format (NFC normalizer,
/// Qwen's Split regex + ByteLevel, byte-level BPE, the chat markers as added tokens) and the Qwen3 chat
/// template.</summary>
public class Qwen3TokenizerTests
{
    /// <summary>The Split pattern of Qwen2/Qwen3's tokenizer.json.</summary>
    const string QwenPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+" +
        @"|\s+(?!\S)|\s+";

    const int EndOfText = 300, ImStart = 301, ImEnd = 302, Think = 303, EndThink = 304;
    const int NewLines = 256, User = 259; // merges "Ċ Ċ" → 256; "u s" → 257, "us e" → 258, "use r" → 259

    /// <summary>Byte b is vocabulary id b (under its byte-level character); then the merged tokens; then the added
    /// tokens, as in Qwen's file (where the added tokens start at 151643).</summary>
    internal static string QwenLikeJson()
    {
        var vocab = new JsonObject();
        for (var b = 0; b < 256; b++) vocab[ByteLevelChars.CharOf((byte)b).ToString()] = b;
        var merges = new[] { ("Ċ", "Ċ"), ("u", "s"), ("us", "e"), ("use", "r") };
        var next = 256;
        foreach (var (a, b) in merges) vocab[a + b] = next++;
        var added = new (string content, int id, bool special)[]
        {
            ("<|endoftext|>", EndOfText, true), ("<|im_start|>", ImStart, true), ("<|im_end|>", ImEnd, true),
            ("<think>", Think, false), ("</think>", EndThink, false),
        };
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(added.Select(a => (JsonNode)new JsonObject
            {
                ["id"] = a.id,
                ["content"] = a.content,
                ["single_word"] = false,
                ["lstrip"] = false,
                ["rstrip"] = false,
                ["normalized"] = false,
                ["special"] = a.special,
            }).ToArray()),
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split",
                        ["pattern"] = new JsonObject { ["Regex"] = QwenPattern },
                        ["behavior"] = "Isolated",
                        ["invert"] = false,
                    },
                    new JsonObject
                    {
                        ["type"] = "ByteLevel",
                        ["add_prefix_space"] = false,
                        ["trim_offsets"] = false,
                        ["use_regex"] = false,
                    }),
            },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode)JsonValue.Create($"{m.Item1} {m.Item2}"))
                    .ToArray()),
            },
        }.ToJsonString();
    }

    static int[] Bytes(string ascii) => ascii.Select(c => (int)c).ToArray();

    [Fact]
    public void RendersTheQwen3ChatFormWithThinkingDisabled() =>
        Assert.Equal("<|im_start|>user\na red fox<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
            Qwen3ChatTemplate.Render("a red fox"));

    [Fact]
    public void TokenizesTheChatFormLikeHuggingFaceTokenizers()
    {
        var t = new Qwen3ChatTemplate(ByteLevelBpeTokenizer.FromJson(QwenLikeJson()), maxLength: 40);
        Assert.Equal(EndOfText, t.PadId);
        // "A café": Qwen's regex keeps the space with the word (" café"), é is two bytes (0xC3 0xA9); "\n\n" is one
        // piece (\s*[\r\n]+) and one merged token; the chat markers and <think> are single ids.
        int[] expected =
        [
            ImStart, User, '\n', 'A', ' ', 'c', 'a', 'f', 0xC3, 0xA9, ImEnd, '\n',
            ImStart, .. Bytes("assistant"), '\n', Think, NewLines, EndThink, NewLines,
        ];
        Assert.Equal(expected, t.Tokens("A café"));
        // NFC: the decomposed spelling (e + combining acute) gives the same ids.
        Assert.Equal(expected, t.Tokens("A cafe\u0301"));

        var (ids, mask) = t.EncodeOne("A café");
        Assert.Equal(40, ids.Length);
        Assert.Equal(expected.Select(i => (long)i), ids.Take(expected.Length));
        Assert.All(ids.Skip(expected.Length), id => Assert.Equal(EndOfText, id));
        Assert.Equal(expected.Length, mask.Sum());
        Assert.All(mask.Take(expected.Length), m => Assert.Equal(1, m));

        // Truncated on the right, like tokenizer(..., truncation=True, max_length=N).
        var short4 = new Qwen3ChatTemplate(ByteLevelBpeTokenizer.FromJson(QwenLikeJson()), maxLength: 4);
        Assert.Equal(new long[] { ImStart, User, '\n', 'A' }, short4.EncodeOne("A café").ids);
    }

    [Fact]
    public void FolderIsRecognisedAsQwenAndItsTemplateChecked()
    {
        var dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), QwenLikeJson());
        var t = Assert.IsType<Qwen3ChatTemplate>(PromptTokenizer.FromFolder(dir));
        Assert.Equal((EndOfText, 512), (t.PadId, t.MaxLength));

        var config = new JsonObject
        {
            ["pad_token"] = "<|im_end|>",
            ["chat_template"] = "{%- for message in messages %}{{- '<|im_start|>' + message.role }}{%- endfor %}" +
                "{%- if enable_thinking is defined and enable_thinking is false %}{%- endif %}",
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
        Assert.Equal(ImEnd, Assert.IsType<Qwen3ChatTemplate>(PromptTokenizer.FromFolder(dir)).PadId);

        // A Qwen2.5-style template (default system message, no thinking switch) renders other text: refused.
        File.WriteAllText(Path.Combine(dir, "chat_template.jinja"),
            "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud.<|im_end|>\\n' }}");
        var e = Assert.Throws<UserError>(() => PromptTokenizer.FromFolder(dir));
        Assert.Contains("Qwen3", e.Message);

        // The Mistral folder still gives the FLUX.2 [dev] template.
        var mistral = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(mistral, "tokenizer.json"), TokenizerTests.TekkenLikeJson());
        Assert.IsType<Flux2ChatTemplate>(PromptTokenizer.FromFolder(mistral));
    }

    [Fact]
    public void ATokenizerWithoutTheChatTokensIsRefused()
    {
        var noChat = ByteLevelBpeTokenizer.FromJson("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""");
        var e = Assert.Throws<UserError>(() => new Qwen3ChatTemplate(noChat));
        Assert.Contains("<|im_start|>", e.Message);
    }

    [Fact]
    public void AnUnsupportedNormalizerIsRefusedNamingIt()
    {
        var json = JsonNode.Parse(QwenLikeJson())!;
        json["normalizer"] = new JsonObject { ["type"] = "Lowercase" };
        var e = Assert.Throws<UserError>(() => ByteLevelBpeTokenizer.FromJson(json.ToJsonString()));
        Assert.Contains("Lowercase", e.Message);
    }
}
