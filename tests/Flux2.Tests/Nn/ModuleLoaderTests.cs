using Flux2.IO;
using Flux2.Native;
using Flux2.Nn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Tests.Nn;

public class ModuleLoaderTests
{
    /// <summary>A two-layer module standing in for a model whose shapes come from a config.</summary>
    sealed class TinyNet : nn.Module<Tensor, Tensor>
    {
        public readonly Linear proj, head;
        public TinyNet(long inFeatures, long hidden) : base(nameof(TinyNet))
        {
            proj = new Linear(inFeatures, hidden, hasBias: true);
            head = new Linear(hidden, 2);
            RegisterComponents();
        }
        public override Tensor forward(Tensor x) => head.forward(proj.forward(x));
    }

    readonly string dir = TestPaths.TempDir();

    public ModuleLoaderTests() => TorchRuntime.EnsureLoaded();

    string WriteWeights(Dictionary<string, Tensor> tensors)
    {
        var path = Path.Combine(dir, "weights.safetensors");
        SafetensorsWriter.Write(path, tensors);
        foreach (var t in tensors.Values) t.Dispose();
        return path;
    }

    [Fact]
    public void MatchingFileLoadsEveryValue()
    {
        var path = WriteWeights(new()
        {
            ["proj.weight"] = arange(12, dtype: ScalarType.Float32).reshape(3, 4),
            ["proj.bias"] = tensor(new[] { 1f, 2f, 3f }),
            ["head.weight"] = full(new long[] { 2, 3 }, 0.5f, ScalarType.BFloat16),
            // stored dtype differs: converted on load
        });
        using var net = new TinyNet(4, 3);
        using var source = SafetensorsSource.OpenFile(path);
        ModuleLoader.Load(net, source);
        Assert.Equal(11f, net.proj.weight[2, 3].item<float>());
        Assert.Equal(3f, net.proj.bias![2].item<float>());
        Assert.Equal(ScalarType.Float32, net.head.weight.dtype);
        Assert.Equal(0.5f, net.head.weight[1, 2].item<float>());
    }

    [Fact]
    public void MissingAndUnexpectedKeysAreListedWithTheFile()
    {
        var path = WriteWeights(new()
        {
            ["proj.weight"] = zeros(3, 4),
            ["head.weight"] = zeros(2, 3),
            ["head.lora_A.weight"] = zeros(1, 3),
            ["norm.weight"] = zeros(3),
        });
        using var net = new TinyNet(4, 3);
        using var source = SafetensorsSource.OpenFile(path);
        var e = Assert.Throws<WeightLoadException>(() => ModuleLoader.Load(net, source));
        Assert.Equal(new[] { "proj.bias" }, e.Missing);
        Assert.Equal(new[] { "head.lora_A.weight", "norm.weight" }, e.Unexpected);
        Assert.Contains(path, e.Message);
        Assert.Contains("missing keys (1): proj.bias", e.Message);
        Assert.Contains("unexpected keys (2): head.lora_A.weight, norm.weight", e.Message);

        // Non-strict loading tolerates both and loads what matches.
        ModuleLoader.Load(net, source, strict: false);
    }

    [Fact]
    public void ShapeDifferentFromTheConfigNamesFileAndKeyEvenWhenNotStrict()
    {
        var path = WriteWeights(new()
        {
            ["proj.weight"] = zeros(5, 4), // a file for hidden = 5, a model built for hidden = 3
            ["proj.bias"] = zeros(5),
            ["head.weight"] = zeros(2, 5),
        });
        using var net = new TinyNet(4, 3);
        using (no_grad()) net.proj.bias!.fill_(7f);
        using var source = SafetensorsSource.OpenFile(path);
        var e = Assert.Throws<WeightLoadException>(() => ModuleLoader.Load(net, source, strict: false));
        Assert.Equal(3, e.ShapeErrors.Count);
        Assert.Contains($"{path} [tensor 'proj.weight']: shape [5, 4] but the config implies [3, 4]", e.Message);
        Assert.Contains($"{path} [tensor 'head.weight']: shape [2, 5] but the config implies [2, 3]", e.Message);
        Assert.Empty(e.Missing);
        Assert.Empty(e.Unexpected);
        Assert.Equal(7f, net.proj.bias![0].item<float>()); // nothing was copied
    }
}
