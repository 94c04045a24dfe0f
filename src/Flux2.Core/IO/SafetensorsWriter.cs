using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>What the header says about one tensor before its bytes are produced (lets a writer stream tensors that
/// are computed or read one at a time, e.g. converting a 64 GB checkpoint without holding it in memory).</summary>
public sealed record TensorPlan(string Name, ScalarType DType, long[] Shape);

/// <summary>
/// Writes .safetensors files: 8-byte little-endian header length, JSON header padded with spaces so the data buffer
/// starts 8-byte aligned (as the reference writer does, so mmap readers can view tensors in place), then the tensors'
/// bytes back to back. The file appears atomically: it is written to a temporary file in the same folder and renamed
/// over the target, so a crash or error never leaves a half-written checkpoint under the real name.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes tensors the caller owns (they are not disposed). Tensors may live on any device and need not
    /// be contiguous; each one is copied to contiguous CPU memory only while its bytes are written.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var byName = new Dictionary<string, Tensor>();
        var plan = new List<TensorPlan>();
        foreach (var (name, t) in tensors)
        {
            if (!byName.TryAdd(name, t)) throw new SafetensorsException(path, name, "tensor name given twice");
            plan.Add(new TensorPlan(name, t.dtype, t.shape));
        }
        WritePlanned(path, plan, name => byName[name], disposeProduced: false, metadata);
    }

    /// <summary>Writes tensors produced on demand, in plan order; each produced tensor is disposed once written, so
    /// only one tensor's memory is alive at a time.</summary>
    public static void Write(string path, IReadOnlyList<TensorPlan> plan, Func<string, Tensor> produce,
        IReadOnlyDictionary<string, string>? metadata = null)
        => WritePlanned(path, plan, produce, disposeProduced: true, metadata);

    static void WritePlanned(string path, IReadOnlyList<TensorPlan> plan, Func<string, Tensor> produce,
                             bool disposeProduced, IReadOnlyDictionary<string, string>? metadata)
    {
        var header = BuildHeader(path, plan, metadata);
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(BitConverter.GetBytes((ulong)header.Length));
                // the format is little-endian; so is every .NET target
                stream.Write(header);
                foreach (var p in plan) WriteTensor(path, stream, p, produce, disposeProduced);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); }
            catch (Exception d) when (d is IOException or UnauthorizedAccessException) { /* keep the original error */ }
            if (e is IOException or UnauthorizedAccessException) throw OutputFile.WriteFailed(path, temp, e);
            throw;
        }
    }

    static void WriteTensor(string path, Stream stream, TensorPlan p, Func<string, Tensor> produce,
        bool disposeProduced)
    {
        var t = produce(p.Name);
        try
        {
            if (t.dtype != p.DType || !t.shape.SequenceEqual(p.Shape))
                throw new SafetensorsException(path, p.Name,
                    $"produced {t.dtype} [{string.Join(", ", t.shape)}] but the header promised {p.DType} " +
                    $"[{string.Join(", ", p.Shape)}]");
            using var cpu = t.device_type == DeviceType.CPU ? t.contiguous() : t.to(CPU).contiguous();
            TensorBytes.ForEachChunk(cpu, (chunk, _) => stream.Write(chunk));
        }
        finally { if (disposeProduced) t.Dispose(); }
    }

    static byte[] BuildHeader(string path, IReadOnlyList<TensorPlan> plan,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps names like "a+b" readable in the header; the output is still plain, valid JSON.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Encoder =
            System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping
        }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            var seen = new HashSet<string>();
            foreach (var p in plan)
            {
                if (p.Name == "__metadata__") throw new SafetensorsException(path, p.Name,
                    "'__metadata__' is reserved by the format");
                if (!seen.Add(p.Name)) throw new SafetensorsException(path, p.Name, "tensor name given twice");
                string dtype;
                try { dtype = SafetensorsDType.FromScalarType(p.DType); }
                catch (NotSupportedException e) { throw new SafetensorsException(path, p.Name, e.Message); }
                long bytes = p.Shape.Aggregate(1L, (a, d) => checked(a * d)) * SafetensorsDType.ElementSize(dtype);
                json.WriteStartObject(p.Name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var d in p.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Pad with spaces (valid JSON whitespace) so that 8 + header length is a multiple of 8.
        int pad = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < pad; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
