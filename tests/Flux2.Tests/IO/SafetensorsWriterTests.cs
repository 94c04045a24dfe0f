using Flux2.IO;
using Flux2.Native;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

public class SafetensorsWriterTests
{
    public SafetensorsWriterTests() => TorchRuntime.EnsureLoaded();

    static Tensor Sample(string dtype) => dtype switch
    {
        "BOOL" => tensor(new[] { true, false, false, true, true, false }).reshape(2, 3),
        "U8" => tensor(new byte[] { 0, 1, 127, 128, 254, 255 }).reshape(3, 2),
        "I32" => tensor(new[] { int.MinValue, -1, 0, 1, int.MaxValue, 42 }).reshape(2, 3),
        "I64" => tensor(new[] { long.MinValue, -1L, 0L, 1L, long.MaxValue, 1L << 40 }).reshape(2, 3),
        // float8 on CPU: .to() works (checked), so real float8 tensors are written and read back, not a U8 stand-in.
        _ => randn(new long[] { 4, 5 }, generator: new Generator(7)).mul(3).to(SafetensorsDType.ToScalarType(dtype)),
    };

    [Theory]
    [InlineData("F32"), InlineData("F16"), InlineData("BF16"), InlineData("F8_E4M3"), InlineData("F8_E5M2"),
     InlineData("I64"), InlineData("I32"), InlineData("U8"), InlineData("BOOL")]
    public void EveryDtypeRoundTripsBitExactly(string dtype)
    {
        var path = Path.Combine(TestPaths.TempDir(), "t.safetensors");
        using var original = Sample(dtype);
        using var scalar = tensor(3.5f).to(original.dtype);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = original, ["scalar"] = scalar });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(dtype, file.Entries["x"].DType);
        using var back = file.Read("x");
        TensorAssert.Identical(original, back, dtype);
        using var backScalar = file.Read("scalar");
        TensorAssert.Identical(scalar, backScalar, dtype + " scalar");
    }

    [Fact]
    public void Float8ValuesSurviveAsTheSameBytes()
    {
        var path = Path.Combine(TestPaths.TempDir(), "f8.safetensors");
        using var values = tensor(new[] { 1f, 2f, -2f, 0.5f });
        using var f8 = values.to(SafetensorsDType.Float8E4M3);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = f8 });
        using var file = SafetensorsFile.Open(path);
        using var back = file.Read("w", dtype: ScalarType.Float32);
        Assert.Equal(new[] { 1f, 2f, -2f, 0.5f }, back.data<float>().ToArray());
        Assert.Equal(4, file.Entries["w"].End - file.Entries["w"].Begin); // one byte per element on disk
    }

    [Fact]
    public void HeaderIsSpacePaddedSoDataStartsEightByteAligned()
    {
        var dir = TestPaths.TempDir();
        for (int nameLength = 1; nameLength <= 8; nameLength++) // every residue of the header length mod 8
        {
            var path = Path.Combine(dir, $"a{nameLength}.safetensors");
            using var t = ones(3);
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { [new string('k', nameLength)] = t });
            var bytes = File.ReadAllBytes(path);
            long headerLength = BitConverter.ToInt64(bytes, 0);
            Assert.Equal(0, (8 + headerLength) % 8);
            var header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
            var json = header.TrimEnd(' ');
            Assert.EndsWith("}", json);
            Assert.InRange(header.Length - json.Length, 0, 7);
            Assert.Equal(12, bytes.Length - 8 - headerLength);
        }
    }

    [Fact]
    public void MetadataAndManyTensorsRoundTrip()
    {
        var path = Path.Combine(TestPaths.TempDir(), "m.safetensors");
        var tensors = Enumerable.Range(0, 5)
            .Select(i => new KeyValuePair<string, Tensor>($"layer.{i}.weight",
                                                          full(new long[] { i + 1, 2 }, i, ScalarType.BFloat16)))
            .ToList();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "quotes \" and \u00e9 and +" };
        SafetensorsWriter.Write(path, tensors, metadata);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        foreach (var (name, t) in tensors)
        {
            using var back = file.Read(name); TensorAssert.Identical(t, back, name);
            t.Dispose();
        }
    }

    [Fact]
    public void NonContiguousTensorsAreWrittenInLogicalOrder()
    {
        var path = Path.Combine(TestPaths.TempDir(), "nc.safetensors");
        using var baseTensor = arange(12, dtype: ScalarType.Float32).reshape(3, 4);
        using var transposed = baseTensor.t();
        Assert.False(transposed.is_contiguous());
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = transposed });
        using var file = SafetensorsFile.Open(path);
        using var back = file.Read("t");
        using var expected = transposed.contiguous();
        TensorAssert.Identical(expected, back);
    }

    [Fact]
    public void PlannedWriteDisposesEachProducedTensorAfterWritingIt()
    {
        var path = Path.Combine(TestPaths.TempDir(), "p.safetensors");
        var plan = new[] { new TensorPlan("a", ScalarType.Float32, new long[] { 2 }),
            new TensorPlan("b", ScalarType.Int64, new long[] { 3 }) };
        var produced = new List<Tensor>();
        SafetensorsWriter.Write(path, plan, name =>
        {
            var t = name == "a" ? tensor(new[] { 1f, 2f }) : tensor(new[] { 7L, 8L, 9L });
            produced.Add(t);
            return t;
        });
        Assert.All(produced, t => Assert.True(t.IsInvalid));
        using var file = SafetensorsFile.Open(path);
        using var b = file.Read("b");
        Assert.Equal(new[] { 7L, 8L, 9L }, b.data<long>().ToArray());
    }

    [Fact]
    public void FailedWriteLeavesTheExistingFileAndNoTemporaryFile()
    {
        var dir = TestPaths.TempDir();
        var path = Path.Combine(dir, "keep.safetensors");
        using var good = ones(2);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["good"] = good });
        var before = File.ReadAllBytes(path);

        // The plan promises a shape the producer does not deliver: the failure happens mid-file.
        var plan = new[] { new TensorPlan("first", ScalarType.Float32, new long[] { 2 }),
            new TensorPlan("second", ScalarType.Float32, new long[] { 5 }) };
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.Write(path, plan, _ => ones(2)));
        Assert.Equal("second", e.Tensor);

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { "keep.safetensors" }, Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void UnsupportedDtypeIsRejectedNamingTheTensor()
    {
        var path = Path.Combine(TestPaths.TempDir(), "c.safetensors");
        using var complex = zeros(new long[] { 2 }, ScalarType.ComplexFloat32);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.Write(path,
            new Dictionary<string, Tensor> { ["z"] = complex }));
        Assert.Equal("z", e.Tensor);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void DuplicateAndReservedNamesAreRejected()
    {
        var path = Path.Combine(TestPaths.TempDir(), "d.safetensors");
        using var t = ones(1);
        var dup = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.Write(path,
            new[] { KeyValuePair.Create("w", t), KeyValuePair.Create("w", t) }));
        Assert.Contains("twice", dup.Message);
        var reserved = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.Write(path,
            new[] { KeyValuePair.Create("__metadata__", t) }));
        Assert.Contains("reserved", reserved.Message);
    }
}
