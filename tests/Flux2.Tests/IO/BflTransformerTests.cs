using Flux2.IO;
using Flux2.Native;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

public class BflTransformerTests
{
    static string FixtureTransformer => Path.Combine(TestPaths.Tiny, "transformer",
        "diffusion_pytorch_model.safetensors");

    public BflTransformerTests() => TorchRuntime.EnsureLoaded();

    static Dictionary<string, Tensor> ReadAll(ITensorSource s) => s.Keys.ToDictionary(k => k, k => s.Read(k));

    /// <summary>Writes the fixture transformer in BFL layout (optionally under a prefix) and returns its
    /// path.</summary>
    static string WriteFixtureAsBfl(string prefix = "")
    {
        using var diffusers = SafetensorsSource.OpenFile(FixtureTransformer);
        var original = ReadAll(diffusers);
        var bfl = BflTransformerConverter.ToBfl(original);
        var path = Path.Combine(TestPaths.TempDir(), "flux2-tiny-bfl.safetensors");
        SafetensorsWriter.Write(path, bfl.Select(kv => KeyValuePair.Create(prefix + kv.Key, kv.Value)));
        foreach (var t in original.Values.Concat(bfl.Select(kv => kv.Value))) t.Dispose();
        return path;
    }

    static void AssertSameAsFixture(ITensorSource converted)
    {
        using var fixture = SafetensorsSource.OpenFile(FixtureTransformer);
        Assert.Equal(fixture.Keys.Order(), converted.Keys.Order());
        foreach (var key in fixture.Keys)
        {
            Assert.Equal(fixture.Shape(key), converted.Shape(key));
            using var expected = fixture.Read(key);
            using var actual = converted.Read(key);
            TensorAssert.Identical(expected, actual, key);
        }
    }

    [Fact]
    public void FixtureRoundTripsThroughBflLayoutExactly()
    {
        var path = WriteFixtureAsBfl();
        using (var raw = SafetensorsFile.Open(path))
        {
            // The file really is in BFL layout: fused qkv, scale-named norms, BFL top-level names.
            Assert.Equal(new long[] { 192, 64 }, raw.Entries["double_blocks.0.img_attn.qkv.weight"].Shape);
            Assert.Contains("double_blocks.1.txt_attn.norm.key_norm.scale", raw.Keys);
            Assert.Contains("single_blocks.1.linear1.weight", raw.Keys);
            Assert.Contains("final_layer.adaLN_modulation.1.weight", raw.Keys);
            Assert.DoesNotContain(raw.Keys, k => k.StartsWith("transformer_blocks."));
        }
        using var source = BflTransformerSource.Open(path);
        AssertSameAsFixture(source);
    }

    [Fact]
    public void FinalAdaLnHalvesAreSwappedAndQkvIsStackedQThenKThenV()
    {
        var path = WriteFixtureAsBfl();
        using var fixture = SafetensorsSource.OpenFile(FixtureTransformer);
        using var bfl = SafetensorsFile.Open(path);

        using var normOut = fixture.Read("norm_out.linear.weight");           // diffusers: [scale; shift]
        using var adaLn = bfl.Read("final_layer.adaLN_modulation.1.weight");  // BFL: [shift; scale]
        using (var bflShift = adaLn.narrow(0, 0, 64)) using (var diffShift = normOut.narrow(0, 64, 64))
            TensorAssert.Identical(diffShift.contiguous(), bflShift.contiguous(), "shift");
        using (var bflScale = adaLn.narrow(0, 64, 64)) using (var diffScale = normOut.narrow(0, 0, 64))
            TensorAssert.Identical(diffScale.contiguous(), bflScale.contiguous(), "scale");

        using var addK = fixture.Read("transformer_blocks.1.attn.add_k_proj.weight");
        using var txtKRows = bfl.ReadRows("double_blocks.1.txt_attn.qkv.weight", 64, 64);
        TensorAssert.Identical(addK, txtKRows, "add_k_proj");
    }

    [Fact]
    public void KeyMapBothDirections()
    {
        Assert.Equal(new BflLocation("double_blocks.7.img_attn.qkv.weight", 2, 3),
            BflTransformerKeyMap.ToBfl("transformer_blocks.7.attn.to_v.weight"));
        Assert.Equal(new BflLocation("double_blocks.0.txt_attn.norm.query_norm.scale"),
            BflTransformerKeyMap.ToBfl("transformer_blocks.0.attn.norm_added_q.weight"));
        Assert.Equal(new BflLocation("single_blocks.47.linear2.weight"),
            BflTransformerKeyMap.ToBfl("single_transformer_blocks.47.attn.to_out.weight"));
        Assert.Equal(new BflLocation("final_layer.adaLN_modulation.1.weight", SwapHalves: true),
            BflTransformerKeyMap.ToBfl("norm_out.linear.weight"));
        Assert.Equal(new BflLocation("guidance_in.out_layer.weight"),
            BflTransformerKeyMap.ToBfl("time_guidance_embed.guidance_embedder.linear_2.weight"));
        Assert.Null(BflTransformerKeyMap.ToBfl("transformer_blocks.0.attn.to_out.1.weight"));

        var qkv = BflTransformerKeyMap.ToDiffusers("double_blocks.3.txt_attn.qkv.weight");
        Assert.Equal(new[] { "transformer_blocks.3.attn.add_q_proj.weight",
                             "transformer_blocks.3.attn.add_k_proj.weight",
                             "transformer_blocks.3.attn.add_v_proj.weight" },
                     qkv.Select(x => x.DiffusersKey));
        Assert.Equal(new[] { 0, 1, 2 }, qkv.Select(x => x.Location.Chunk));
        Assert.Equal("single_transformer_blocks.12.attn.norm_k.weight",
            Assert.Single(BflTransformerKeyMap.ToDiffusers("single_blocks.12.norm.key_norm.scale")).DiffusersKey);
        Assert.Empty(BflTransformerKeyMap.ToDiffusers("vector_in.in_layer.weight"));
    }

    [Fact]
    public void CheckpointOpenDetectsLayoutAndStripsPrefixes()
    {
        using (var diffusers = TransformerCheckpoint.Open(Path.Combine(TestPaths.Tiny, "transformer")))
        {
            Assert.IsType<SafetensorsSource>(diffusers);
            AssertSameAsFixture(diffusers);
        }
        using (var bfl = TransformerCheckpoint.Open(WriteFixtureAsBfl()))
        {
            Assert.IsType<BflTransformerSource>(bfl);
            AssertSameAsFixture(bfl);
        }
        foreach (var prefix in TransformerCheckpoint.Prefixes)
        {
            using var prefixed = TransformerCheckpoint.Open(WriteFixtureAsBfl(prefix));
            AssertSameAsFixture(prefixed);
        }
    }

    [Fact]
    public void AllInOneFileKeepsOnlyTheTransformerAndDiffusersPrefixIsStripped()
    {
        using var fixture = SafetensorsSource.OpenFile(FixtureTransformer);
        var tensors = ReadAll(fixture);
        using var vae = ones(3);
        var path = Path.Combine(TestPaths.TempDir(), "all-in-one.safetensors");
        SafetensorsWriter.Write(path, tensors.Select(kv => KeyValuePair.Create("model.diffusion_model." + kv.Key,
            kv.Value))
                                             .Append(KeyValuePair.Create("first_stage_model.decoder.conv_in.weight",
                                                 vae)));
        foreach (var t in tensors.Values) t.Dispose();
        using var source = TransformerCheckpoint.Open(path);
        AssertSameAsFixture(source);
        Assert.EndsWith(Path.GetFileName(path), source.FileOf("x_embedder.weight"));
    }

    [Fact]
    public void UnknownLayoutAndUnsplittableQkvAreRefused()
    {
        var dir = TestPaths.TempDir();
        using var t = ones(4, 2);
        var vaeOnly = Path.Combine(dir, "vae.safetensors");
        SafetensorsWriter.Write(vaeOnly, new Dictionary<string, Tensor> { ["encoder.conv_in.weight"] = t });
        var e = Assert.Throws<InvalidDataException>(() => TransformerCheckpoint.Open(vaeOnly));
        Assert.Contains("not a FLUX.2 transformer checkpoint", e.Message);
        Assert.Contains("encoder.conv_in.weight", e.Message);

        var badQkv = Path.Combine(dir, "bad.safetensors");
        SafetensorsWriter.Write(badQkv, new Dictionary<string, Tensor> { ["double_blocks.0.img_attn.qkv.weight"] = t });
        var split = Assert.Throws<SafetensorsException>(() => TransformerCheckpoint.Open(badQkv));
        Assert.Equal("double_blocks.0.img_attn.qkv.weight", split.Tensor);
        Assert.Equal(badQkv, split.File);
        Assert.Contains("cannot be split into 3", split.Message);
    }

    [Fact]
    public void UnknownBflKeysPassThroughSoStrictLoadingListsThem()
    {
        var path = Path.Combine(TestPaths.TempDir(), "extra.safetensors");
        using var t = ones(6, 2);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor>
        {
            ["double_blocks.0.img_attn.qkv.weight"] = t,
            ["vector_in.in_layer.weight"] = t
        });
        using var source = BflTransformerSource.Open(path);
        Assert.Equal(new[] { "transformer_blocks.0.attn.to_k.weight", "transformer_blocks.0.attn.to_q.weight",
                             "transformer_blocks.0.attn.to_v.weight", "vector_in.in_layer.weight" },
                     source.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { 2, 2 }, source.Shape("transformer_blocks.0.attn.to_k.weight"));
    }

    [Fact]
    public void ConverterRefusesUnknownNamesAndIncompleteQkv()
    {
        using var t = ones(2, 2);
        Assert.Contains("unknown.weight", Assert.Throws<ArgumentException>(() =>
            BflTransformerConverter.ToBfl(new Dictionary<string, Tensor> { ["unknown.weight"] = t })).Message);
        var partial = Assert.Throws<ArgumentException>(() => BflTransformerConverter.ToBfl(
            new Dictionary<string, Tensor>
            {
                ["transformer_blocks.0.attn.to_q.weight"] = t,
                ["transformer_blocks.0.attn.to_k.weight"] = t
            }));
        Assert.Contains("double_blocks.0.img_attn.qkv.weight", partial.Message);
    }
}
