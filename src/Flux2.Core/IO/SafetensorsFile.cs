using System.IO.MemoryMappedFiles;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// Lazy, memory-mapped reader of one .safetensors file: the header is parsed and validated on open; tensor bytes
/// are read only when a tensor is asked for. Format: 8-byte little-endian header length, JSON header, data buffer.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    readonly MemoryMappedFile map;
    readonly MemoryMappedViewAccessor view;
    readonly long dataStart;
    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IEnumerable<string> Keys => Entries.Keys;

    SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataStart,
                    Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path; this.map = map; this.view = view; this.dataStart = dataStart; Entries = entries; Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        var length = new FileInfo(path).Length;
        if (length < 8) throw new SafetensorsException(path, null, $"file is {length} bytes, shorter than the 8-byte header length prefix (truncated?)");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        try
        {
            var headerLen = view.ReadInt64(0);
            if (headerLen <= 0 || headerLen > length - 8)
                throw new SafetensorsException(path, null, $"header length {headerLen} points past the end of the {length}-byte file (truncated or not a safetensors file)");
            var json = new byte[headerLen];
            view.ReadArray(8, json, 0, (int)headerLen);
            var (entries, metadata) = SafetensorsHeader.Parse(path, json, length - 8 - headerLen);
            return new SafetensorsFile(path, map, view, 8 + headerLen, entries, metadata);
        }
        catch { view.Dispose(); map.Dispose(); throw; }
    }

    public bool Contains(string key) => Entries.ContainsKey(key);

    /// <summary>Reads one tensor (a copy owned by the caller) in its stored dtype, optionally moved to a device/dtype.</summary>
    public Tensor Read(string key, Device? device = null, ScalarType? dtype = null)
    {
        if (!Entries.TryGetValue(key, out var e)) throw new SafetensorsException(Path, key, "no such tensor in this file");
        var st = SafetensorsDType.ToScalarType(e.DType);
        var t = empty(e.Shape, st);
        var bytes = e.End - e.Begin;
        unsafe
        {
            byte* src = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref src);
            try
            {
                new ReadOnlySpan<byte>(src + view.PointerOffset + dataStart + e.Begin, checked((int)bytes)).CopyTo(t.bytes);
            }
            finally { view.SafeMemoryMappedViewHandle.ReleasePointer(); }
        }
        if (dtype is { } d && d != st) { var c = t.to(d); t.Dispose(); t = c; }
        if (device != null && device.type != DeviceType.CPU) { var c = t.to(device); t.Dispose(); t = c; }
        return t;
    }

    public void Dispose() { view.Dispose(); map.Dispose(); }
}

public sealed class SafetensorsException(string file, string? tensor, string problem)
    : Exception($"{file}{(tensor != null ? $" [tensor '{tensor}']" : "")}: {problem}")
{
    public string File { get; } = file;
    public string? Tensor { get; } = tensor;
}
