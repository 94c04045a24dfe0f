using Flux2.IO;
using Flux2.Native;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

/// <summary>Every kind of damaged file is built by hand and must be refused with the file (and tensor, when one is to
/// blame) named in the message.</summary>
public class SafetensorsReaderErrorTests
{
    readonly string dir = TestPaths.TempDir();

    public SafetensorsReaderErrorTests() => TorchRuntime.EnsureLoaded();

    SafetensorsException Refused(string path, string? tensor, string phrase)
    {
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, e.File);
        Assert.Equal(tensor, e.Tensor);
        Assert.StartsWith(path, e.Message);
        if (tensor != null) Assert.Contains($"'{tensor}'", e.Message);
        Assert.Contains(phrase, e.Message);
        return e;
    }

    [Fact]
    public void WellFormedHandBuiltFileReads()
    {
        // Control for the cases below: the builder itself produces readable files.
        var path = RawSafetensors.Write(dir, "ok.safetensors",
            """{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":""" +
            """{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}""", [5, 6, 7]);
        using var f = SafetensorsFile.Open(path);
        using var b = f.Read("b");
        Assert.Equal(7, b.data<byte>()[0]);
    }

    [Fact]
    public void TruncatedFileNamesTheTensorWhoseBytesAreMissing()
    {
        var path = Path.Combine(dir, "trunc.safetensors");
        using var a = ones(4); using var b = ones(4);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(f.Length - 3);
        Refused(path, "b", "outside the 29-byte data buffer");
    }

    [Fact]
    public void FileShorterThanTheLengthPrefix()
    {
        var path = Path.Combine(dir, "tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Refused(path, null, "shorter than the 8-byte header length prefix");
    }

    [Fact]
    public void HeaderLengthPastEndOfFile()
    {
        var path = RawSafetensors.Write(dir, "hlen.safetensors", "{}", [], declaredHeaderLength: 1000);
        Refused(path, null, "header length 1000 points past the end");
    }

    [Fact]
    public void NegativeHeaderLength()
    {
        var negative = RawSafetensors.Write(dir, "neg.safetensors", "{}", [], declaredHeaderLength: -5);
        Refused(negative, null, "header length -5");
    }

    [Fact]
    public void DataOffsetsOutsideTheBuffer()
    {
        var path = RawSafetensors.Write(dir, "out.safetensors",
            """{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", new byte[8]);
        Refused(path, "w", "data_offsets [4, 12] lie outside the 8-byte data buffer");
    }

    [Fact]
    public void OverlappingOffsetsNameBothTensors()
    {
        var path = RawSafetensors.Write(dir, "overlap.safetensors",
            """{"first":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"second":""" +
            """{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", new byte[12]);
        Refused(path, "second", "overlap tensor 'first' [0, 8]");
    }

    [Fact]
    public void GapsAndTrailingBytesAreRefused()
    {
        var gap = RawSafetensors.Write(dir, "gap.safetensors",
            """{"w":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}""", new byte[4]);
        Refused(gap, "w", "gap of 2 bytes");
        var trailing = RawSafetensors.Write(dir, "trail.safetensors",
            """{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}""", new byte[5]);
        Refused(trailing, null, "3 trailing bytes");
    }

    [Fact]
    public void DtypeShapeByteSizeMismatch()
    {
        var path = RawSafetensors.Write(dir, "size.safetensors",
            """{"w":{"dtype":"BF16","shape":[3,2],"data_offsets":[0,8]}}""", new byte[8]);
        Refused(path, "w", "byte size 8 does not match dtype BF16 x shape [3, 2] = 12 bytes");
    }

    [Fact]
    public void UnknownDtype()
    {
        var path = RawSafetensors.Write(dir, "dtype.safetensors",
            """{"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}""", new byte[1]);
        Refused(path, "w", "unsupported dtype 'F4'");
    }

    [Fact]
    public void InvalidJson()
    {
        var path = RawSafetensors.Write(dir, "json.safetensors", """{"w":{"dtype":"F32",""", new byte[4]);
        Refused(path, null, "header is not valid JSON");
    }

    [Fact]
    public void NonStringMetadata()
    {
        var path = RawSafetensors.Write(dir, "meta.safetensors",
            """{"__metadata__":{"format":"pt","steps":1000},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""",
            new byte[1]);
        Refused(path, null, "__metadata__['steps'] must be a string");
    }

    [Fact]
    public void MalformedEntries()
    {
        Refused(RawSafetensors.Write(dir, "e1.safetensors",
                                     """{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}""", new byte[1]),
                "w", "shape must be an array of non-negative integers");
        Refused(RawSafetensors.Write(dir, "e2.safetensors", """{"w":{"dtype":"U8","shape":[1]}}""", new byte[1]),
                "w", "lacks one of dtype, shape, data_offsets");
        Refused(RawSafetensors.Write(dir, "e3.safetensors",
            """{"w":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}""", new byte[1]),
                "w", "end before they begin");
        Refused(RawSafetensors.Write(dir, "e4.safetensors", """[1,2]""", []), null, "not an object");
    }

    [Fact]
    public void DuplicateTensorNameInHeader()
    {
        var path = RawSafetensors.Write(dir, "dup.safetensors",
            """{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":""" +
            """{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", new byte[2]);
        Refused(path, "w", "appears twice");
    }

    [Fact]
    public void AskingForAnAbsentTensorNamesFileAndTensor()
    {
        var path =
            RawSafetensors.Write(dir, "ok2.safetensors", """{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""",
                [1]);
        using var f = SafetensorsFile.Open(path);
        var e = Assert.Throws<SafetensorsException>(() => f.Read("b"));
        Assert.Equal(path, e.File);
        Assert.Equal("b", e.Tensor);
    }

    [Fact]
    public void RowRangeReadsOnlyTheAskedRows()
    {
        var path = Path.Combine(dir, "rows.safetensors");
        using var t = arange(24, dtype: ScalarType.Int32).reshape(6, 2, 2);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = t });
        using var f = SafetensorsFile.Open(path);
        using var rows = f.ReadRows("t", 2, 3);
        using var expected = t.narrow(0, 2, 3).contiguous();
        TensorAssert.Identical(expected, rows);
        Assert.Throws<SafetensorsException>(() => f.ReadRows("t", 5, 2));
    }
}
