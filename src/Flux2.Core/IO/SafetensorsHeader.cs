using System.Text.Json;

namespace Flux2.IO;

/// <summary>Strict parsing of the JSON header: every field is checked, and tensors must tile the data buffer
/// exactly (in bounds, no overlaps, byte size = dtype size x element count).</summary>
static class SafetensorsHeader
{
    static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    public static (Dictionary<string, SafetensorsEntry>, Dictionary<string, string>)
        Parse(string path, byte[] json, long dataLength)
    {
        // JsonDocument checks UTF-8 only when a string is read; a bad byte in a name would surface later as an
        // InvalidOperationException from GetString.
        try { StrictUtf8.GetCharCount(json); }
        catch (System.Text.DecoderFallbackException e)
        {
            throw new SafetensorsException(path, null, $"header is not valid UTF-8 (bad byte at offset {e.Index})");
        }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e)
        {
            throw new SafetensorsException(path, null,
            $"header is not valid JSON ({e.Message})");
        }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new SafetensorsException(path, null,
            "header JSON is not an object");
        var entries = new Dictionary<string, SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw new SafetensorsException(path, null,
                    "__metadata__ must be an object of strings");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw new SafetensorsException(path, null,
                        $"__metadata__['{m.Name}'] must be a string");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            // JSON allows repeated names and JsonDocument keeps both; a second entry would silently shadow the first.
            if (entries.ContainsKey(prop.Name)) throw new SafetensorsException(path, prop.Name,
                "tensor name appears twice in the header");
            entries[prop.Name] = ParseEntry(path, prop.Name, prop.Value);
        }
        ValidateLayout(path, entries.Values, dataLength);
        return (entries, metadata);
    }

    static SafetensorsEntry ParseEntry(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new SafetensorsException(path, name,
            "entry must be an object with dtype, shape, data_offsets");
        string? dtype = null; long[]? shape = null; long[]? offsets = null;
        foreach (var f in e.EnumerateObject())
        {
            switch (f.Name)
            {
                case "dtype":
                    if (f.Value.ValueKind != JsonValueKind.String) throw new SafetensorsException(path, name,
                        "dtype must be a string");
                    dtype = f.Value.GetString();
                    if (!SafetensorsDType.IsKnown(dtype!))
                        throw new SafetensorsException(path, name,
                            $"unsupported dtype '{dtype}' (supported: {string.Join(", ", SafetensorsDType.Names)})");
                    break;
                case "shape": shape = IntArray(path, name, "shape", f.Value); break;
                case "data_offsets": offsets = IntArray(path, name, "data_offsets", f.Value); break;
                default:
                    throw new SafetensorsException(path, name,
                        $"unknown field '{f.Name}' (expected dtype, shape, data_offsets)");
            }
        }
        if (dtype == null || shape == null || offsets == null)
            throw new SafetensorsException(path, name, "entry lacks one of dtype, shape, data_offsets");
        if (offsets.Length != 2) throw new SafetensorsException(path, name,
            $"data_offsets must have 2 numbers, has {offsets.Length}");
        if (offsets[1] < offsets[0]) throw new SafetensorsException(path, name,
            $"data_offsets [{offsets[0]}, {offsets[1]}] end before they begin");
        long expected;
        try
        {
            long count = 1;
            foreach (var d in shape) count = checked(count * d);
            expected = checked(count * SafetensorsDType.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw new SafetensorsException(path, name,
                $"shape [{string.Join(", ", shape)}] holds more bytes than a 64-bit size can count");
        }
        if (offsets[1] - offsets[0] != expected)
            throw new SafetensorsException(path, name,
                $"byte size {offsets[1] - offsets[0]} does not match dtype {dtype} x shape " +
                $"[{string.Join(", ", shape)}] = {expected} bytes");
        return new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
    }

    static long[] IntArray(string path, string name, string field, JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Array) throw new SafetensorsException(path, name,
            $"{field} must be an array of non-negative integers");
        var list = new List<long>();
        foreach (var x in v.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out var n) || n < 0)
                throw new SafetensorsException(path, name,
                    $"{field} must be an array of non-negative integers, found {x.GetRawText()}");
            list.Add(n);
        }
        return list.ToArray();
    }

    static void ValidateLayout(string path, IEnumerable<SafetensorsEntry> entries, long dataLength)
    {
        long cursor = 0;
        SafetensorsEntry? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.End > dataLength)
                throw new SafetensorsException(path, e.Name,
                    $"data_offsets [{e.Begin}, {e.End}] lie outside the " +
                    $"{dataLength}-byte data buffer (file truncated?)");
            if (e.Begin < cursor)
                throw new SafetensorsException(path, e.Name,
                    $"data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous!.Name}' " +
                    $"[{previous.Begin}, {previous.End}]");
            if (e.Begin > cursor)
                throw new SafetensorsException(path, e.Name,
                    $"gap of {e.Begin - cursor} bytes before this tensor's data (offsets must be contiguous)");
            cursor = e.End; previous = e;
        }
        if (cursor != dataLength)
            throw new SafetensorsException(path, null,
                $"data buffer has {dataLength - cursor} trailing bytes not covered by any tensor");
    }
}
