using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
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
    public const long MaxHeaderBytes = 100_000_000;
    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IEnumerable<string> Keys => Entries.Keys;

    SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataStart,
                    Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path; this.map = map; this.view = view; this.dataStart = dataStart; Entries = entries; Metadata =
            metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new SafetensorsException(path, null, "file not found");
        // The size comes from the opened stream (fstat follows symlinks). FileInfo.Length would be the size of a
        // symlink itself (the length of its target path), and Hugging Face cache snapshots are symlinks to blobs.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = stream.Length;
        if (length < 8)
        {
            stream.Dispose();
            throw new SafetensorsException(path, null,
                $"file is {length} bytes, shorter than the 8-byte header length prefix (truncated?)");
        }
        var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read,
            HandleInheritability.None, leaveOpen: false);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        try
        {
            var headerLen = view.ReadInt64(0);
            if (headerLen <= 0 || headerLen > length - 8)
                throw new SafetensorsException(path, null,
                    $"header length {headerLen} points past the end of the {length}-byte file " +
                    "(truncated or not a safetensors file)");
            // The format caps the header at 100 MB (safetensors MAX_HEADER_SIZE); a larger value means garbage, and
            // it must not reach the int-sized buffer below.
            if (headerLen > MaxHeaderBytes)
                throw new SafetensorsException(path, null,
                    $"header length {headerLen} exceeds the format's {MaxHeaderBytes}-byte " +
                    "limit (not a safetensors file?)");
            var json = new byte[headerLen];
            view.ReadArray(8, json, 0, (int)headerLen);
            var (entries, metadata) = SafetensorsHeader.Parse(path, json, length - 8 - headerLen);
            return new SafetensorsFile(path, map, view, 8 + headerLen, entries, metadata);
        }
        catch { view.Dispose(); map.Dispose(); throw; }
    }

    public bool Contains(string key) => Entries.ContainsKey(key);

    /// <summary>Reads one tensor (a copy owned by the caller) in its stored dtype, optionally moved to a
    /// device/dtype.</summary>
    public Tensor Read(string key, Device? device = null, ScalarType? dtype = null)
    {
        var e = Entry(key);
        return e.Shape.Length == 0 ? ReadBytes(e, e.Shape, 0, device, dtype)
            : ReadRows(key, 0, e.Shape[0], device, dtype);
    }

    /// <summary>Reads rows [start, start + count) along dim 0 without touching the other rows' bytes.</summary>
    public Tensor ReadRows(string key, long start, long count, Device? device = null, ScalarType? dtype = null)
    {
        var e = Entry(key);
        if (e.Shape.Length == 0 || start < 0 || count < 0 || start + count > e.Shape[0])
            throw new SafetensorsException(Path, key,
                $"rows [{start}, {start + count}) are outside shape [{string.Join(", ", e.Shape)}]");
        var shape = (long[])e.Shape.Clone();
        shape[0] = count;
        long rowBytes = e.Shape[0] == 0 ? 0 : (e.End - e.Begin) / e.Shape[0];
        return ReadBytes(e, shape, start * rowBytes, device, dtype);
    }

    SafetensorsEntry Entry(string key) =>
        Entries.TryGetValue(key, out var e) ? e : throw new SafetensorsException(Path, key,
            "no such tensor in this file");

    Tensor ReadBytes(SafetensorsEntry e, long[] shape, long byteOffset, Device? device, ScalarType? dtype)
    {
        var st = SafetensorsDType.ToScalarType(e.DType);
        var t = empty(shape, st);
        unsafe
        {
            byte* mapped = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref mapped);
            try
            {
                var src = (nint)(mapped + view.PointerOffset + dataStart + e.Begin + byteOffset);
                long copied = 0;
                TensorBytes.ForEachChunk(t, (chunk, at) =>
                {
                    new ReadOnlySpan<byte>((byte*)(src + (nint)at), chunk.Length).CopyTo(chunk);
                    copied = Math.Max(copied, at + chunk.Length);
                });
                ReleaseMappedPages(src, copied);
            }
            finally { view.SafeMemoryMappedViewHandle.ReleasePointer(); }
        }
        if (dtype is { } d && d != st) { var c = t.to(d); t.Dispose(); t = c; }
        if (device != null && device.type != DeviceType.CPU) { var c = t.to(device); t.Dispose(); t = c; }
        return t;
    }

    public void Dispose() { view.Dispose(); map.Dispose(); }

    [DllImport("libc", SetLastError = true)] static extern int madvise(nint addr, nuint length, int advice);
    const int MADV_DONTNEED = 4;

    /// <summary>Drops the pages of a tensor just read from this process's mapping (Linux). Mapped file pages count in
    /// the process's resident set (VmRSS/VmHWM) once touched, so a streamed load of a 32 GiB checkpoint would otherwise
    /// show a 32 GiB "peak RAM" although every page is clean page cache the kernel may drop; with this the resident set
    /// stays at what the load really holds, so CPU RAM stays bounded while loading. Only whole pages inside the
    /// range are dropped (a neighbouring tensor may share the edge pages); reading them again faults them back
    /// in.</summary>
    static void ReleaseMappedPages(nint start, long bytes)
    {
        if (!OperatingSystem.IsLinux() || bytes <= 0) return;
        long page = Environment.SystemPageSize;
        long first = (start + page - 1) / page * page, end = (start + bytes) / page * page;
        if (end > first) madvise((nint)first, (nuint)(end - first), MADV_DONTNEED);
        // advice only: a failure changes nothing read
    }
}

public sealed class SafetensorsException(string file, string? tensor, string problem)
    : Exception($"{file}{(tensor != null ? $" [tensor '{tensor}']" : "")}: {problem}")
{
    public string File { get; } = file;
    public string? Tensor { get; } = tensor;
}
