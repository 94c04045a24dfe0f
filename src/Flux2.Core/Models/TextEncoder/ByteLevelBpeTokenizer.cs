using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Flux2.Models.TextEncoder;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> BPE tokenizer, enough for Mistral's Tekken (docs/flux2-model.md §4.1/§4.4:
/// "the HF tokenizer.json is a byte-level BPE form of Tekken") and Qwen's byte-level BPE ([klein]): added/special
/// tokens split first (each one id), then a Unicode normalizer on the text between them (Qwen: NFC), then
/// the pre-tokenizer (<c>Split</c> regex, <c>ByteLevel</c>, or a <c>Sequence</c> of them), then BPE merges by rank with
/// <c>ignore_merges</c>, <c>byte_fallback</c> (<c>&lt;0xNN&gt;</c>) and <c>unk_token</c>. No post-processor: the chat
/// template writes <c>&lt;s&gt;</c> itself, as transformers' apply_chat_template does.
/// <para>Written here rather than taken from Microsoft.ML.Tokenizers 2.0.1, whose BpeTokenizer reads vocab/merges
/// files, not a tokenizer.json, and has no Split-regex + ByteLevel pipeline of the Tekken kind.</para>
/// <para>Limit: .NET regexes match UTF-16 code units, so a letter outside the BMP (rare scripts, math letters) is not
/// <c>\p{L}</c> for the Split regex; it still encodes (through its bytes) but may split differently from Rust.</para>
/// </summary>
public sealed class ByteLevelBpeTokenizer
{
    public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip, bool RStrip);

    readonly Dictionary<string, int> vocab;
    readonly Dictionary<int, string> idToToken;
    readonly Dictionary<(string, string), int> mergeRanks;
    readonly Dictionary<string, AddedToken> added;
    readonly Dictionary<int, AddedToken> addedById;
    readonly Regex? addedSplitter;
    readonly List<Func<string, IEnumerable<string>>> preTokenizers = new();
    readonly bool byteLevel, ignoreMerges, byteFallback;
    readonly string? unkToken;
    readonly NormalizationForm? normalization;
    readonly ConcurrentDictionary<string, int[]> cache = new(); // word → ids; thread-safe, capped

    public IReadOnlyCollection<AddedToken> AddedTokens => added.Values;
    public int VocabSize => idToToken.Count;

    /// <summary>GPT-2's default ByteLevel regex (used when ByteLevel has use_regex = true).</summary>
    const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    ByteLevelBpeTokenizer(JsonObject root, string origin)
    {
        var model = root["model"] as JsonObject ?? throw new FormatException($"{origin}: no 'model'");
        if (model["type"]?.GetValue<string>() is { } t && t != "BPE")
            throw new UserError($"{origin}: model type '{t}' (only BPE is supported)");
        if (model["continuing_subword_prefix"]?.GetValue<string>() is { Length: > 0 }
            || model["end_of_word_suffix"]?.GetValue<string>() is { Length: > 0 })
            throw new UserError($"{origin}: BPE with continuing_subword_prefix / end_of_word_suffix is not supported");
        if (root["normalizer"] is JsonObject norm) normalization = NormalizationOf(norm, origin);

        vocab = (model["vocab"] as JsonObject ?? throw new FormatException($"{origin}: no model.vocab"))
            .ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>());
        idToToken = new Dictionary<int, string>();
        foreach (var (tok, id) in vocab) idToToken[id] = tok;
        ignoreMerges = model["ignore_merges"]?.GetValue<bool>() ?? false;
        byteFallback = model["byte_fallback"]?.GetValue<bool>() ?? false;
        unkToken = model["unk_token"]?.GetValue<string>();

        mergeRanks = new Dictionary<(string, string), int>();
        var merges = model["merges"] as JsonArray ?? new JsonArray();
        for (var r = 0; r < merges.Count; r++)
        {
            (string a, string b) pair = merges[r] switch
            {
                JsonArray arr when arr.Count == 2 => (arr[0]!.GetValue<string>(), arr[1]!.GetValue<string>()),
                JsonValue v when v.GetValue<string>().Split(' ') is { Length: 2 } parts => (parts[0], parts[1]),
                var other =>
                    throw new FormatException($"{origin}: merge {r} is neither \"a b\" nor [\"a\", \"b\"]: " +
                        $"{other?.ToJsonString()}"),
            };
            mergeRanks.TryAdd(pair, r);
        }

        added = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        addedById = new Dictionary<int, AddedToken>();
        foreach (var n in root["added_tokens"] as JsonArray ?? new JsonArray())
        {
            var a = new AddedToken(n!["id"]!.GetValue<int>(), n["content"]!.GetValue<string>(),
                                   n["special"]?.GetValue<bool>() ?? false, n["lstrip"]?.GetValue<bool>() ?? false,
                                   n["rstrip"]?.GetValue<bool>() ?? false);
            added[a.Content] = a;
            addedById[a.Id] = a;
            idToToken[a.Id] = a.Content;
        }
        if (added.Count > 0)
        {
            // Longest first, so "[/INST]" wins over a shorter token that is its prefix.
            var alternatives = added.Keys.OrderByDescending(k => k.Length).Select(Regex.Escape);
            addedSplitter = new Regex(string.Join("|", alternatives), RegexOptions.CultureInvariant);
        }

        byteLevel = AddPreTokenizer(root["pre_tokenizer"] as JsonObject, origin);
        if (!byteLevel && root["decoder"]?["type"]?.GetValue<string>() == "ByteLevel")
            byteLevel = true; // ByteLevel decoder without pre-tokenizer: still a byte-level vocabulary
    }

    public static ByteLevelBpeTokenizer FromJson(string json, string origin = "tokenizer.json") =>
        new(JsonNode.Parse(json) as JsonObject ?? throw new FormatException($"{origin}: not a JSON object"), origin);

    /// <summary>A tokenizer.json with no merges: one token per byte after the Mistral v7 control tokens
    /// (&lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2, [INST] 3, [/INST] 4, [SYSTEM_PROMPT] 5, [/SYSTEM_PROMPT] 6, [IMG] 10,
    /// &lt;pad&gt; 11, bytes from 12). For random debug models, which have no trained vocabulary.</summary>
    public static string ByteOnlyTokenizerJson()
    {
        var specials = new (string token, int id)[] { ("<unk>", 0), ("<s>", 1), ("</s>", 2), ("[INST]", 3),
            ("[/INST]", 4), ("[SYSTEM_PROMPT]", 5), ("[/SYSTEM_PROMPT]", 6), ("[IMG]", 10), ("<pad>", 11) };
        var vocab = new System.Text.Json.Nodes.JsonObject();
        foreach (var (token, id) in specials) vocab[token] = id;
        for (int b = 0; b < 256; b++) vocab[ByteLevelChars.CharOf((byte)b).ToString()] = 12 + b;
        var added = new System.Text.Json.Nodes.JsonArray(specials.Select(s =>
            (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
            {
                ["id"] = s.id,
                ["content"] = s.token,
                ["special"] = true
            }).ToArray());
        var root = new System.Text.Json.Nodes.JsonObject
        {
            ["added_tokens"] = added,
            ["pre_tokenizer"] = new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "ByteLevel",
                ["add_prefix_space"] = false,
                ["use_regex"] = false
            },
            ["model"] = new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = vocab,
                ["merges"] = new System.Text.Json.Nodes.JsonArray()
            },
        };
        return root.ToJsonString();
    }

    /// <summary>The Unicode normalizer (Qwen's tokenizer.json has NFC; Tekken has none); other normalizers are
    /// refused.</summary>
    static NormalizationForm NormalizationOf(JsonObject norm, string origin) =>
        norm["type"]?.GetValue<string>() switch
        {
            "NFC" => NormalizationForm.FormC,
            "NFD" => NormalizationForm.FormD,
            "NFKC" => NormalizationForm.FormKC,
            "NFKD" => NormalizationForm.FormKD,
            var other => throw new UserError($"{origin}: normalizer '{other}' is not supported (NFC, NFD, NFKC, NFKD)"),
        };

    public static ByteLevelBpeTokenizer FromFile(string path) => FromJson(File.ReadAllText(path), path);

    /// <summary>Returns whether a ByteLevel step was found.</summary>
    bool AddPreTokenizer(JsonObject? p, string origin)
    {
        if (p is null) return false;
        switch (p["type"]?.GetValue<string>())
        {
            case "Sequence":
                var any = false;
                foreach (var child in p["pretokenizers"] as JsonArray ?? new JsonArray()) any |=
                    AddPreTokenizer(child as JsonObject, origin);
                return any;
            case "Split":
                var pattern = p["pattern"]?["Regex"]?.GetValue<string>()
                    ?? Regex.Escape(p["pattern"]?["String"]?.GetValue<string>()
                    ?? throw new FormatException($"{origin}: Split without pattern"));
                if (p["invert"]?.GetValue<bool>() == true) throw new UserError($"{origin}: Split with invert = true");
                var regex = new Regex(pattern, RegexOptions.CultureInvariant);
                var behavior = p["behavior"]?.GetValue<string>() ?? "Isolated";
                preTokenizers.Add(s => Split(regex, s, behavior, origin));
                return false;
            case "ByteLevel":
                var prefixSpace = p["add_prefix_space"]?.GetValue<bool>() ?? false;
                var useRegex = p["use_regex"]?.GetValue<bool>() ?? true;
                var gpt2 = new Regex(Gpt2Pattern, RegexOptions.CultureInvariant);
                preTokenizers.Add(s =>
                {
                    if (prefixSpace && s.Length > 0 && s[0] != ' ') s = " " + s;
                    return useRegex ? Split(gpt2, s, "Isolated", origin) : new[] { s };
                });
                return true;
            case var other:
                throw new UserError($"{origin}: pre_tokenizer '{other}' is not supported (Split, ByteLevel, Sequence)");
        }
    }

    static IEnumerable<string> Split(Regex regex, string s, string behavior, string origin)
    {
        var pieces = new List<(string text, bool match)>();
        var pos = 0;
        foreach (Match m in regex.Matches(s))
        {
            if (m.Length == 0) continue;
            if (m.Index > pos) pieces.Add((s[pos..m.Index], false));
            pieces.Add((m.Value, true));
            pos = m.Index + m.Length;
        }
        if (pos < s.Length) pieces.Add((s[pos..], false));
        switch (behavior)
        {
            case "Isolated": return pieces.Select(p => p.text);
            case "Removed": return pieces.Where(p => !p.match).Select(p => p.text);
            case "MergedWithPrevious":
            case "MergedWithNext":
                var result = new List<string>();
                var sb = new StringBuilder();
                foreach (var (text, match) in pieces)
                {
                    if (behavior == "MergedWithNext")
                    {
                        sb.Append(text); if
                        (!match) { result.Add(sb.ToString()); sb.Clear(); }
                    }
                    else
                    {
                        if (match) { sb.Append(text); result.Add(sb.ToString()); sb.Clear(); }
                        else { if (sb.Length > 0) result.Add(sb.ToString()); sb.Clear(); sb.Append(text); }
                    }
                }
                if (sb.Length > 0) result.Add(sb.ToString());
                return result;
            default: throw new UserError($"{origin}: Split behavior '{behavior}'");
        }
    }

    /// <summary>Token ids of <paramref name="text"/>; added tokens (e.g. <c>[INST]</c>) become single ids.</summary>
    public int[] Encode(string text)
    {
        var ids = new List<int>();
        var pos = 0;
        if (addedSplitter is not null)
            foreach (Match m in addedSplitter.Matches(text))
            {
                var tok = added[m.Value];
                var end = m.Index;
                if (tok.LStrip) while (end > pos && char.IsWhiteSpace(text[end - 1])) end--;
                EncodeOrdinary(text[pos..end], ids);
                ids.Add(tok.Id);
                pos = m.Index + m.Length;
                if (tok.RStrip) while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++;
            }
        EncodeOrdinary(text[pos..], ids);
        return ids.ToArray();
    }

    void EncodeOrdinary(string text, List<int> ids)
    {
        if (text.Length == 0) return;
        if (normalization is { } form) text = text.Normalize(form);
        IEnumerable<string> pieces = new[] { text };
        foreach (var pre in preTokenizers) pieces = pieces.SelectMany(pre).ToList();
        foreach (var piece in pieces)
        {
            if (piece.Length == 0) continue;
            var word = byteLevel ? ByteLevelChars.Encode(piece) : piece;
            if (!cache.TryGetValue(word, out var wordIds))
            {
                if (cache.Count > 100_000) cache.Clear();
                cache[word] = wordIds = EncodeWord(word);
            }
            ids.AddRange(wordIds);
        }
    }

    int[] EncodeWord(string word)
    {
        if (ignoreMerges && vocab.TryGetValue(word, out var whole)) return new[] { whole };
        // Initial symbols: one per character (byte-level: one per byte); merges then join the lowest-ranked pair.
        var symbols = new List<string>();
        for (var e = StringInfoRunes(word); e.MoveNext();) symbols.Add(e.Current);
        while (symbols.Count > 1)
        {
            var best = -1; var bestRank = int.MaxValue;
            for (var i = 0; i + 1 < symbols.Count; i++)
                if (mergeRanks.TryGetValue((symbols[i], symbols[i + 1]), out var r) && r < bestRank)
                {
                    bestRank = r;
                    best = i;
                }
            if (best < 0) break;
            symbols[best] += symbols[best + 1];
            symbols.RemoveAt(best + 1);
        }
        var ids = new List<int>();
        var lastWasUnk = false;
        foreach (var s in symbols)
        {
            if (vocab.TryGetValue(s, out var id)) { ids.Add(id); lastWasUnk = false; continue; }
            var bytes = byteLevel ? ByteLevelChars.Decode(s) : Encoding.UTF8.GetBytes(s);
            if (byteFallback && bytes.All(b => vocab.ContainsKey($"<0x{b:X2}>")))
            {
                ids.AddRange(bytes.Select(b => vocab[$"<0x{b:X2}>"]));
                lastWasUnk = false;
            }
            else if (unkToken is not null && vocab.TryGetValue(unkToken, out var unk))
            {
                if (!lastWasUnk) ids.Add(unk);
                lastWasUnk = true;
            }
            else
                throw new InvalidOperationException($"cannot encode '{s}': not in the vocabulary, and the tokenizer " +
                    $"has no byte fallback or unk token");
        }
        return ids.ToArray();
    }

    static IEnumerator<string> StringInfoRunes(string s)
    {
        foreach (var r in s.EnumerateRunes()) yield return r.ToString();
    }

    public int? TokenToId(string token) =>
        added.TryGetValue(token, out var a) ? a.Id : vocab.TryGetValue(token, out var id) ? id : null;

    public string? IdToToken(int id) => idToToken.GetValueOrDefault(id);

    public bool IsAddedToken(string content) => added.ContainsKey(content);

    /// <summary>Text of <paramref name="ids"/>: added tokens as their content (or skipped when special and
    /// <paramref name="skipSpecial"/>), byte-level and <c>&lt;0xNN&gt;</c> tokens back to UTF-8.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false)
    {
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        void Flush() { sb.Append(Encoding.UTF8.GetString(bytes.ToArray())); bytes.Clear(); }
        foreach (var id in ids)
        {
            if (addedById.TryGetValue(id, out var a))
            {
                Flush(); if (!(skipSpecial && a.Special)) sb.Append(a.Content);
                continue;
            }
            var tok = idToToken.GetValueOrDefault(id) ?? throw new ArgumentOutOfRangeException(nameof(ids),
                $"unknown token id {id}");
            if (tok.Length == 6 && tok.StartsWith("<0x") && tok.EndsWith('>')
                && byte.TryParse(tok.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
                bytes.Add(b);
            else if (byteLevel) bytes.AddRange(ByteLevelChars.Decode(tok));
            else bytes.AddRange(Encoding.UTF8.GetBytes(tok));
        }
        Flush();
        return sb.ToString();
    }
}

/// <summary>GPT-2's reversible byte ↔ printable-character map used by ByteLevel BPE (e.g. space → 'Ġ').</summary>
public static class ByteLevelChars
{
    static readonly char[] ByteToChar = new char[256];
    static readonly Dictionary<char, byte> CharToByte = new();

    static ByteLevelChars()
    {
        var n = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            ByteToChar[b] = printable ? (char)b : (char)(256 + n++);
            CharToByte[ByteToChar[b]] = (byte)b;
        }
    }

    public static char CharOf(byte b) => ByteToChar[b];

    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var chars = new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    public static byte[] Decode(string chars)
    {
        var bytes = new byte[chars.Length];
        for (var i = 0; i < chars.Length; i++)
            bytes[i] = CharToByte.TryGetValue(chars[i], out var b) ? b
                : throw new FormatException($"'{chars[i]}' is not a byte-level character");
        return bytes;
    }
}
