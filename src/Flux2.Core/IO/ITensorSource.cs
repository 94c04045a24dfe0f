using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.IO;

/// <summary>A named set of tensors that can be read lazily: one safetensors file, several shards, or a renamed view
/// (e.g. BFL keys mapped onto diffusers names).</summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Human-readable origin, used in error messages (a file or folder path).</summary>
    string Origin { get; }
    IReadOnlyCollection<string> Keys { get; }
    long[] Shape(string key);
    /// <summary>Where the key's bytes live (file path), for error messages.</summary>
    string FileOf(string key);
    Tensor Read(string key, Device? device = null, ScalarType? dtype = null);

    /// <summary>Reads rows [start, start + count) along dim 0. Sources backed by files override this to read only
    /// those bytes (a row range of a row-major tensor is one contiguous byte range): splitting a fused BFL qkv
    /// weight then costs one read per part instead of three reads of the whole fused tensor.</summary>
    Tensor ReadRows(string key, long start, long count, Device? device = null, ScalarType? dtype = null)
    {
        using var whole = Read(key, device, dtype);
        return whole.narrow(0, start, count).clone();
    }
}
