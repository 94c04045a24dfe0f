using Flux2.IO;
using Flux2.Native;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

public class DiffusersFolderTests
{
    public DiffusersFolderTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void FixtureWithoutModelIndexIsOpenedByDiscovery()
    {
        var folder = DiffusersFolder.Open(TestPaths.Tiny);
        Assert.Null(folder.PipelineClass);
        Assert.Equal(new[] { "scheduler", "text_encoder", "transformer", "vae" }, folder.Components.Keys.Order());

        var transformer = folder["transformer"];
        Assert.Equal(Path.Combine(TestPaths.Tiny, "transformer"), transformer.Folder);
        Assert.Equal(2, transformer.Config.Int("num_layers", 0));
        Assert.Equal("Flux2Transformer2DModel", transformer.ClassName);
        using (var weights = transformer.OpenWeights())
        {
            Assert.Equal(new long[] { 64, 16 }, weights.Shape("x_embedder.weight"));
            Assert.EndsWith("diffusion_pytorch_model.safetensors", weights.FileOf("x_embedder.weight"));
        }
        using (var te = folder["text_encoder"].OpenWeights()) Assert.EndsWith("model.safetensors", te.Origin);
        // Schedulers keep their config under another name.
        Assert.Equal("FlowMatchEulerDiscreteScheduler", folder["scheduler"].ClassName);
        Assert.EndsWith("scheduler_config.json", folder["scheduler"].ConfigPath);
        Assert.Contains("tokenizer", Assert.Throws<UserError>(() => folder["tokenizer"]).Message);
    }

    static string PipelineFolder(params string[] componentFolders)
    {
        var root = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(root, "model_index.json"), """
            {"_class_name": "Flux2Pipeline", "_diffusers_version": "0.36.0", "is_distilled": false,
             "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
             "transformer": ["diffusers", "Flux2Transformer2DModel"],
             "tokenizer": ["transformers", "PixtralProcessor"],
             "image_encoder": [null, null]}
            """);
        foreach (var c in componentFolders) Directory.CreateDirectory(Path.Combine(root, c));
        return root;
    }

    [Fact]
    public void ModelIndexGivesComponentsLibraryAndClass()
    {
        var root = PipelineFolder("scheduler", "transformer", "tokenizer");
        File.WriteAllText(Path.Combine(root, "transformer", "config.json"),
            """{"_class_name": "Other", "num_layers": 8}""");
        using (var t = ones(2)) SafetensorsWriter.Write(Path.Combine(root, "transformer",
            "diffusion_pytorch_model.safetensors"), new Dictionary<string, Tensor> { ["w"] = t });

        var folder = DiffusersFolder.Open(root);
        Assert.Equal("Flux2Pipeline", folder.PipelineClass);
        Assert.Equal(new[] { "scheduler", "tokenizer", "transformer" }, folder.Components.Keys.Order());
        // [null, null] and options skipped
        Assert.Equal("transformers", folder["tokenizer"].Library);
        Assert.Equal("Flux2Transformer2DModel", folder["transformer"].ClassName); // model_index wins over config
        Assert.Equal(8, folder["transformer"].Config.Int("num_layers", 0));
        using var w = folder["transformer"].OpenWeights();
        Assert.Equal(new[] { "w" }, w.Keys);
    }

    [Fact]
    public void MissingComponentFolderIsNamed()
    {
        var root = PipelineFolder("scheduler", "tokenizer");
        var e = Assert.Throws<DirectoryNotFoundException>(() => DiffusersFolder.Open(root));
        Assert.Contains("model_index.json", e.Message);
        Assert.Contains("transformer/ (diffusers.Flux2Transformer2DModel)", e.Message);
    }

    [Fact]
    public void MissingConfigIsNamed()
    {
        var root = PipelineFolder("scheduler", "transformer", "tokenizer");
        var transformer = DiffusersFolder.Open(root)["transformer"];
        Assert.False(transformer.HasConfig);
        var e = Assert.Throws<FileNotFoundException>(() => transformer.Config);
        Assert.Contains(Path.Combine(root, "transformer"), e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void BrokenJsonAndEmptyFoldersAreReported()
    {
        var root = TestPaths.TempDir();
        Assert.Contains("none of the component folders", Assert.Throws<DirectoryNotFoundException>(() =>
            DiffusersFolder.Open(root)).Message);
        File.WriteAllText(Path.Combine(root, "model_index.json"), "{ \"transformer\": [");
        var e = Assert.Throws<InvalidDataException>(() => DiffusersFolder.Open(root));
        Assert.Contains(Path.Combine(root, "model_index.json"), e.Message);

        var bad = PipelineFolder("scheduler", "transformer", "tokenizer");
        File.WriteAllText(Path.Combine(bad, "transformer", "config.json"), "{ nope");
        Assert.Contains("config.json: not valid JSON", Assert.Throws<ConfigException>(() =>
            DiffusersFolder.Open(bad)["transformer"].Config).Message);
    }
}
