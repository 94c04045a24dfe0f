using Flux2.IO;
using Flux2.Native;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

public class WeightFilesTests
{
    readonly string dir = TestPaths.TempDir();

    public WeightFilesTests() => TorchRuntime.EnsureLoaded();

    string Safetensors(string name)
    {
        using var t = ones(1);
        var path = Path.Combine(dir, name);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = t });
        return path;
    }

    string Junk(string name)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, [0x80, 0x02, 0x63]); // pickle protocol-2 opcodes; never parsed
        return path;
    }

    [Fact]
    public void IndexIsPreferredOverSingleFiles()
    {
        Safetensors("diffusion_pytorch_model.safetensors");
        var shard = Safetensors("diffusion_pytorch_model-00001-of-00001.safetensors");
        var index = Path.Combine(dir, "diffusion_pytorch_model.safetensors.index.json");
        File.WriteAllText(index, """{"weight_map":{"w":"diffusion_pytorch_model-00001-of-00001.safetensors"}}""");
        Assert.Equal(index, WeightFiles.Locate(dir));
        using var source = WeightFiles.Open(dir);
        Assert.Equal(shard, source.FileOf("w"));
    }

    [Fact]
    public void DiffusersNameThenTransformersNameThenALoneFile()
    {
        Safetensors("zeta.safetensors");
        Safetensors("model.safetensors");
        Assert.EndsWith("model.safetensors", WeightFiles.Locate(dir));
        var diffusers = Safetensors("diffusion_pytorch_model.safetensors");
        Assert.Equal(diffusers, WeightFiles.Locate(dir));

        var other = TestPaths.TempDir();
        var lone = Path.Combine(other, "flux2-dev.safetensors");
        File.Copy(diffusers, lone);
        Assert.Equal(lone, WeightFiles.Locate(other));
    }

    [Fact]
    public void SeveralUnnamedSafetensorsAreAmbiguous()
    {
        Safetensors("a.safetensors");
        Safetensors("b.safetensors");
        var e = Assert.Throws<InvalidOperationException>(() => WeightFiles.Locate(dir));
        Assert.Contains("a.safetensors, b.safetensors", e.Message);
    }

    [Fact]
    public void FolderWithOnlyPickleFilesIsRefusedWithTheReason()
    {
        Junk("diffusion_pytorch_model.bin");
        Junk("extra.ckpt");
        var e = Assert.Throws<PickleRefusedException>(() => WeightFiles.Open(dir));
        Assert.Equal(new[] { "diffusion_pytorch_model.bin", "extra.ckpt" }, e.Files);
        Assert.Contains("execute arbitrary code", e.Message);
        Assert.Contains("Download the .safetensors version", e.Message);
        Assert.StartsWith(dir, e.Message);
    }

    [Theory]
    [InlineData("model.pt"), InlineData("model.pth"), InlineData("model.ckpt"), InlineData("pytorch_model.bin")]
    public void PickleFilePassedDirectlyIsRefused(string name)
    {
        var path = Junk(name);
        var e = Assert.Throws<PickleRefusedException>(() => WeightFiles.Open(path));
        Assert.Contains(name, e.Message);
        Assert.Contains("pickle", e.Message);
    }

    [Fact]
    public void PickleBesideSafetensorsIsIgnored()
    {
        Junk("pytorch_model.bin");
        var st = Safetensors("model.safetensors");
        Assert.Equal(st, WeightFiles.Locate(dir));
    }

    [Fact]
    public void NothingToLoad()
    {
        var empty = Assert.Throws<FileNotFoundException>(() => WeightFiles.Locate(dir));
        Assert.Contains("no weights found", empty.Message);
        Assert.Throws<FileNotFoundException>(() => WeightFiles.Locate(Path.Combine(dir, "nope")));
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "x");
        Assert.Throws<UserError>(() => WeightFiles.Locate(Path.Combine(dir, "notes.txt")));
    }
}
