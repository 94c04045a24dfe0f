using Flux2.Native;
using Flux2.Training.Config;
using Flux2.Training.Data;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary>Latent and text-embedding caches: what invalidates an entry, and when the text cache is off.</summary>
public class CacheKeyTests
{
    const string Model = "flux2-micro|32|16";

    [Theory]
    [InlineData("same", false)]
    [InlineData("image", true)]
    [InlineData("mtime", true)]
    [InlineData("bucket", true)]
    [InlineData("flip", true)]
    [InlineData("model", true)]
    [InlineData("caption", false)] // latents do not depend on the caption
    public void LatentCacheFileChangesWithImageBucketFlipAndModel(string change, bool expectNewFile)
    {
        var dir = TempDataset.Create(count: 1, width: 32, height: 32);
        var image = Path.Combine(dir, "img0.png");
        var item = new DatasetItem(image, "a card", 32, 32, false, false, 0);
        var before = LatentCache.DiskPath(item, Model);
        var model = Model;
        switch (change)
        {
            case "image": TempDataset.WritePng(image, 48, 32, SkiaSharp.SKColors.Blue); break;
            case "mtime": File.SetLastWriteTimeUtc(image, File.GetLastWriteTimeUtc(image).AddSeconds(5)); break;
            case "bucket": item = item with { Width = 16 }; break;
            case "flip": item = item with { FlipX = true }; break;
            case "model": model = "tiny-random|32|16"; break;
            case "caption": item = item with { Caption = "another caption" }; break;
        }
        Assert.Equal(expectNewFile, before != LatentCache.DiskPath(item, model));
    }

    [Theory]
    [InlineData("model", "m2", 512, "a card")]
    [InlineData("max length", "m1", 256, "a card")]
    [InlineData("caption", "m1", 512, "a red card")]
    public void TextEmbeddingHashChangesWith(string changed, string model, int maxLength, string caption)
    {
        Assert.NotEmpty(changed);
        Assert.Equal(TextEmbeddingCache.Hash("m1", 512, "a card"), TextEmbeddingCache.Hash("m1", 512, "a card"));
        Assert.NotEqual(TextEmbeddingCache.Hash("m1", 512, "a card"),
            TextEmbeddingCache.Hash(model, maxLength, caption));
    }

    [Fact]
    public void TextEmbeddingsAreEncodedOnceThenReadBackFromDiskByTheNextRun()
    {
        TorchRuntime.EnsureLoaded();
        var folder = TestPaths.TempDir();
        int calls = 0;
        Tensor Encode(IReadOnlyList<string> cs)
        {
            calls++; return stack(cs.Select(c =>
            full(new long[] { 3, 2 }, (float)c.Length)).ToArray());
        }

        using (var first = new TextEmbeddingCache(Encode, "m1", 512, folder))
        {
            Assert.Equal(5f, first["a cat"][0, 0, 0].item<float>());
            _ = first["a cat"]; _ = first["a dog!"];
            Assert.Equal(2, first.Encoded);
        }
        Assert.Equal(2, Directory.GetFiles(folder, "*.safetensors").Length);
        using (var second = new TextEmbeddingCache(Encode, "m1", 512, folder))
        {
            Assert.Equal(6f, second["a dog!"][0, 0, 1].item<float>());
            Assert.Equal((0, 1), (second.Encoded, second.ReadFromDisk));
        }
        using (var otherModel = new TextEmbeddingCache(Encode, "m2", 512, folder))
        {
            _ = otherModel["a dog!"];
            Assert.Equal((1, 0), (otherModel.Encoded, otherModel.ReadFromDisk));
        }
        Assert.Equal(3, calls); // two by the first run, none by the second, one for the other model
    }

    /// <summary>Up-front filling encodes the missing captions a batch per call (low_vram streams the whole encoder per
    /// call), reads the ones on disk, and gives each caption its own [1, L, D] row.</summary>
    [Fact]
    public void PrefillEncodesTheMissingCaptionsInBatchesAndReadsTheRestFromDisk()
    {
        TorchRuntime.EnsureLoaded();
        var folder = TestPaths.TempDir();
        var batches = new List<int>();
        Tensor Encode(IReadOnlyList<string> cs)
        {
            batches.Add(cs.Count);
            return stack(cs.Select(c => full(new long[] { 3, 2 }, (float)c.Length)).ToArray());
        }
        using (var first = new TextEmbeddingCache(Encode, "m1", 512, folder)) _ = first["a"];
        using var cache = new TextEmbeddingCache(Encode, "m1", 512, folder);
        cache.Prefill(new[] { "a", "bb", "ccc", "dddd", "eeeee", "bb", "ffffff" }, batchSize: 2);
        Assert.Equal(new[] { 1, 2, 2, 1 },
            batches);            // "a" by the first cache; then 5 new captions, 2 per call
        Assert.Equal((5, 1), (cache.Encoded, cache.ReadFromDisk));
        foreach (var c in new[] { "a", "bb", "ccc", "dddd", "eeeee", "ffffff" })
        {
            Assert.Equal(new long[] { 1, 3, 2 }, cache[c].shape);
            Assert.Equal((float)c.Length, cache[c][0, 2, 1].item<float>());
        }
        Assert.Equal(4, batches.Count);                          // the indexer found everything cached
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Prefill(new[] { "x" }, 0));
    }

    [Theory]
    [InlineData(false, 0.0, false, true, null)]
    [InlineData(true, 0.0, false, false, "shuffle_tokens")]
    [InlineData(false, 0.1, false, true, "dropped caption")]
    [InlineData(false, 0.0, true, true, "preservation captions are cached as separate entries")]
    public void TextCacheIsOffOnlyWhenCaptionsVaryPerStep(bool shuffle, double dropout, bool dop, bool expectOn,
        string? messagePart)
    {
        var p = new ProcessConfig
        {
            TriggerWord = "zqx",
            Datasets = { new DatasetConfig { FolderPath = "d", ShuffleTokens = shuffle, CaptionDropoutRate = dropout }
                },
            Train = new TrainConfig { DiffOutputPreservation = dop },
        };
        var (on, message) = TextCachePolicy.Decide(p);
        Assert.Equal(expectOn, on);
        if (messagePart is null) Assert.Null(message);
        else Assert.Contains(messagePart, message);
    }
}
