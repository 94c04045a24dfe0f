using System.Text;
using System.Text.Json.Nodes;
using Flux2.Models.TextEncoder;
using Flux2.Native;
using Xunit;

namespace Flux2.Tests.Models;

/// <summary>Byte-level BPE from a tokenizer.json built here in the Tekken form, and the FLUX.2 chat template.</summary>
public class TokenizerTests
{
    /// <summary>Tekken's pre-tokenizer regex (Mistral tokenizer.json Split pattern).</summary>
    const string TekkenPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+" +
        @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*" +
        @"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    static readonly string[] Specials =
    {
        "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
        "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]",
        "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]",
    };
    const int ByteBase = 20; // byte-level chars follow the 20 control tokens, as in Tekken (1000 there)

    static readonly (string a, string b)[] Merges =
    {
        ("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"), ("l", "d"),
            ("Ġwor", "ld"),
        ("Ġ", "c"), ("a", "t"), ("Ġc", "at"),
    };

    static int[] ByteLevelCharsTable()
    {
        var t = new int[256]; var n = 0;
        for (var b = 0; b < 256; b++)
            t[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) ? b : 256 + n++;
        return t;
    }

    internal static string TekkenLikeJson(bool mergesAsArrays = false, bool ignoreMerges = true,
        string? extraVocab = null)
    {
        var table = ByteLevelCharsTable();
        var vocab = new JsonObject();
        for (var i = 0; i < Specials.Length; i++) vocab[Specials[i]] = i;
        for (var b = 0; b < 256; b++) vocab[((char)table[b]).ToString()] = ByteBase + b;
        var next = ByteBase + 256;
        foreach (var (a, b) in Merges) vocab[a + b] = next++;
        if (extraVocab is not null) vocab[extraVocab] = next++;
        var merges = new JsonArray(Merges.Select(m => mergesAsArrays ? (JsonNode)new JsonArray(m.a, m.b)
            : JsonValue.Create($"{m.a} {m.b}")).ToArray());
        var added = new JsonArray(Specials.Select((s, i) => (JsonNode)new JsonObject
        {
            ["id"] = i,
            ["content"] = s,
            ["single_word"] = false,
            ["lstrip"] = false,
            ["rstrip"] = false,
            ["normalized"] = false,
            ["special"] = true,
        }).ToArray());
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split",
                        ["pattern"] = new JsonObject { ["Regex"] = TekkenPattern },
                        ["behavior"] = "Isolated",
                        ["invert"] = false
                    },
                    new JsonObject
                    {
                        ["type"] = "ByteLevel",
                        ["add_prefix_space"] = false,
                        ["trim_offsets"] = true,
                        ["use_regex"] = false
                    }),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = ignoreMerges,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
        return root.ToJsonString();
    }

    static ByteLevelBpeTokenizer Tok(bool arrays = false) => ByteLevelBpeTokenizer.FromJson(TekkenLikeJson(arrays));
    static int Id(ByteLevelBpeTokenizer t, string token) => t.TokenToId(token) ?? throw new KeyNotFoundException(token);

    /// <summary>Ids that Hugging Face tokenizers 0.23.2 (Rust) produced for this same tokenizer.json
    /// (<c>encode(text, add_special_tokens=False)</c>), covering the Tekken Split regex on case, digits, punctuation,
    /// newlines, runs of spaces, non-ASCII letters, emoji and special-token splitting.</summary>
    public static readonly TheoryData<string, int[]> HuggingFaceReference = new()
    {
        { "hello world", new[] { 279, 284 } },
        { "Hello World, HELLO wOrld! 123 4567", new[] { 92, 121, 277, 131, 52, 107, 281, 283, 64, 52, 92, 89, 96, 96,
            99, 280, 99, 134, 283, 53, 52, 69, 70, 71, 52, 72, 73, 74, 75 } },
        { "a cat's hat... \"quoted\" (x)/y", new[] { 117, 287, 59, 135, 52, 124, 286, 66, 66, 66, 52, 54, 133, 137,
            131, 136, 121, 120, 54, 52, 60, 140, 61, 67, 141 } },
        { "h\u00e9llo w\u00f6rld \ud83d\ude42 \u65e5\u672c\u8a9e \u00dcn\u00efc\u00f6d\u00e9",
            new[] { 124, 215, 189, 277, 131, 280, 215, 202, 134, 283, 52, 260, 179, 173, 150, 52, 250, 171, 185, 250,
                    176, 192, 252, 190, 178, 52, 215, 176, 130, 215, 195, 119, 215, 202, 120, 215, 189 } },
        { "line1\nline2\r\n  tabs\tand   spaces  ", new[] { 128, 125, 130, 121, 69, 30, 128, 125, 130, 121, 70, 33, 30,
            52, 52, 136, 117, 118, 135, 29, 117, 130, 120, 52, 52, 52, 135, 132, 117, 119, 121, 135, 52, 52 } },
        { "<s>[SYSTEM_PROMPT]sys[/SYSTEM_PROMPT][INST] a red cat[/INST]",
            new[] { 1, 17, 135, 141, 135, 18, 3, 52, 117, 52, 134, 121, 120, 287, 4 } },
        { "CamelCaseWords and snake_case-words / paths/like/this\n\n\nend",
            new[] { 87, 117, 129, 121, 128, 87, 117, 135, 121, 107, 281, 120, 135, 52, 117, 130, 120, 52, 135, 130, 117,
                    127, 121, 115, 119, 117, 135, 121, 65, 139, 281, 120, 135, 52, 67, 52, 132, 286, 124, 135, 67, 128,
                    125, 127, 121, 67, 136, 124, 125, 135, 30, 30, 30, 121, 130, 120 } },
        { "[INST hello [IMG] x", new[] { 111, 93, 98, 103, 104, 52, 279, 52, 10, 52, 140 } },
    };

    [Theory]
    [MemberData(nameof(HuggingFaceReference))]
    public void MatchesHuggingFaceTokenizers(string text, int[] expected) => Assert.Equal(expected, Tok().Encode(text));

    [Fact]
    public void MergesWordsAndSpaces()
    {
        var t = Tok();
        Assert.Equal(new[] { Id(t, "hello"), Id(t, "Ġworld") }, t.Encode("hello world"));
        Assert.Equal(new[] { Id(t, "hello"), Id(t, "Ġcat"), ByteBase + '!' }, t.Encode("hello cat!"));
        // No merge for "x y": raw byte-level symbols.
        Assert.Equal(new[] { ByteBase + 'x', ByteBase + ' ', ByteBase + 'y' }, t.Encode("x y"));
        Assert.Equal(t.Encode("hello world"), Tok(arrays: true).Encode("hello world")); // merges as ["a","b"]
    }

    [Fact]
    public void IgnoreMergesTakesWholeWordsFromTheVocab()
    {
        // "zz" is in the vocab but no merge makes it: with ignore_merges the whole word is one id.
        var with = ByteLevelBpeTokenizer.FromJson(TekkenLikeJson(ignoreMerges: true, extraVocab: "zz"));
        var without = ByteLevelBpeTokenizer.FromJson(TekkenLikeJson(ignoreMerges: false, extraVocab: "zz"));
        Assert.Equal(new[] { Id(with, "zz") }, with.Encode("zz"));
        Assert.Equal(new[] { ByteBase + 'z', ByteBase + 'z' }, without.Encode("zz"));
    }

    [Fact]
    public void UnmergedCharactersFallBackToTheirBytes()
    {
        var t = Tok();
        var ids = t.Encode("é🙂");
        Assert.Equal(Encoding.UTF8.GetBytes("é🙂").Select(b => ByteBase + b), ids);
        foreach (var s in new[] { "héllo wörld 🙂 日本", "line1\nline2\r\n  tabs\tand  spaces ",
                                  "[INST]x[/INST]" })
            Assert.Equal(s, t.Decode(t.Encode(s)));
    }

    [Fact]
    public void SentencePieceByteFallbackTokens()
    {
        var json = """
            {"added_tokens": [], "normalizer": null, "pre_tokenizer": null, "decoder": null,
             "model": {"type": "BPE", "byte_fallback": true, "unk_token": null, "ignore_merges": false,
                       "vocab": {"a": 0, "b": 1, "ab": 2, "<0xC3>": 3, "<0xA9>": 4}, "merges": ["a b"]}}
            """;
        var t = ByteLevelBpeTokenizer.FromJson(json);
        Assert.Equal(new[] { 2, 3, 4, 0 }, t.Encode("abéa"));
        Assert.Equal("abéa", t.Decode(new[] { 2, 3, 4, 0 }));
        Assert.Throws<InvalidOperationException>(() => t.Encode("c"));
    }

    [Fact]
    public void SpecialTokensAreSingleIds()
    {
        var t = Tok();
        Assert.Equal(new[] { 1, 17, Id(t, "hello"), 18, 3, Id(t, "Ġcat"), 4 },
            t.Encode("<s>[SYSTEM_PROMPT]hello[/SYSTEM_PROMPT][INST] cat[/INST]"));
        // An incomplete marker is ordinary text.
        Assert.DoesNotContain(3, t.Encode("[INST hello"));
        Assert.Equal("hello", t.Decode(new[] { 1, Id(t, "hello"), 2 }, skipSpecial: true));
    }

    [Fact]
    public void SystemMessageIsByteExact()
    {
        var bytes = Encoding.UTF8.GetBytes(Flux2ChatTemplate.SystemMessage);
        Assert.Equal(168, bytes.Length);
        Assert.Single(bytes, b => b == (byte)'\n');
        var expected = "You are an AI that reasons about image descriptions. You give structured responses focusing on "
                     + "object relationships, object" + "\n" + "attribution and actions without speculation.";
        Assert.Equal(Flux2ChatTemplate.SystemMessage, expected);
        Assert.Equal("d43d93082f24034d9c7f4e5b65cdeceb1e082c64c9cf95dfae5be89c31e1320d",
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
        var nl = Flux2ChatTemplate.SystemMessage.IndexOf('\n');
        Assert.Equal("object\nattribution", Flux2ChatTemplate.SystemMessage[(nl - 6)..(nl + 12)]);
    }

    [Fact]
    public void ChatTemplateRendersPadsAndTruncates()
    {
        TorchRuntime.EnsureLoaded();
        var t = Tok();
        var chat = new Flux2ChatTemplate(t, system: "hello");
        Assert.Equal(11, chat.PadId); // <pad>
        Assert.Equal("<s>[SYSTEM_PROMPT]hello[/SYSTEM_PROMPT][INST] cat[/INST]", chat.Render(" [IMG]cat"));

        var (ids, mask) = chat.EncodeOne(" cat");
        var expected = new long[] { 1, 17, Id(t, "hello"), 18, 3, Id(t, "Ġcat"), 4 };
        Assert.Equal(512, ids.Length);
        Assert.Equal(expected, ids[..7]);
        Assert.All(ids[7..], id => Assert.Equal(11L, id));
        Assert.Equal(7, mask.Sum());
        Assert.Equal(Enumerable.Repeat(1L, 7), mask[..7]);

        var shortChat = new Flux2ChatTemplate(t, maxLength: 5, system: "hello");
        var (tid, tmask) = shortChat.EncodeOne(" cat");
        Assert.Equal(expected[..5], tid);          // truncated on the right: [INST] kept, " cat" and [/INST] dropped
        Assert.All(tmask, m => Assert.Equal(1L, m));

        var (bi, bm) = chat.Encode(new[] { " cat", "hello world" });
        Assert.Equal(new long[] { 2, 512 }, bi.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Int64, bi.dtype);
        Assert.Equal(new long[] { 7, 8 }, bm.sum(1).data<long>().ToArray());

        var full = new Flux2ChatTemplate(t, padId: 0);
        Assert.Equal(0, full.PadId);
        var n = (int)full.EncodeOne("cat").mask.Sum();
        var sysIds = t.Encode(Flux2ChatTemplate.SystemMessage);
        Assert.Equal(2 + sysIds.Length + 1 + 1 + t.Encode("cat").Length + 1, n);
    }

    [Fact]
    public void FolderChecksTheChatTemplate()
    {
        var dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), TekkenLikeJson());
        Assert.Equal(11, Flux2ChatTemplate.FromFolder(dir).PadId); // no template file: fixed v7 rendering

        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"),
            """{"chat_template": "{{ bos_token }}{% if messages[0]['role'] == 'system' %}""" +
            """[SYSTEM_PROMPT]{{ messages[0]['content'] }}[/SYSTEM_PROMPT]{% endif %}[INST]...[/INST]"}""");
        Assert.Equal(512, Flux2ChatTemplate.FromFolder(dir).MaxLength);

        File.WriteAllText(Path.Combine(dir, "chat_template.jinja"), "<|im_start|>{{ message['content'] }}<|im_end|>");
        Assert.Throws<UserError>(() => Flux2ChatTemplate.FromFolder(dir));

        var noControls =
            ByteLevelBpeTokenizer.FromJson("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""");
        Assert.Throws<UserError>(() => new Flux2ChatTemplate(noControls));
    }
}
