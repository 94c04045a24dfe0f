using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

static class TensorAssert
{
    /// <summary>Same dtype, shape and bytes: stricter than torch.equal (NaN payloads and -0.0 must survive
    /// too).</summary>
    public static void Identical(Tensor expected, Tensor actual, string what = "")
    {
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}");
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        using var e = expected.cpu().contiguous();
        using var a = actual.cpu().contiguous();
        Assert.True(e.bytes.SequenceEqual(a.bytes), $"{what}: contents differ");
    }
}

/// <summary>Builds safetensors files byte by byte, so tests can produce exactly the damage they describe.</summary>
static class RawSafetensors
{
    public static string Write(string dir, string name, string headerJson, byte[] data,
        long? declaredHeaderLength = null)
    {
        var header = System.Text.Encoding.UTF8.GetBytes(headerJson);
        var path = Path.Combine(dir, name);
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes(declaredHeaderLength ?? header.Length));
        f.Write(header);
        f.Write(data);
        return path;
    }
}
