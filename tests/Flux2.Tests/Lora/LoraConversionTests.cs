using Flux2.IO;
using Flux2.Lora;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Tests.Cli;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Lora;

/// <summary>LoRA files convert ComfyUI &lt;-&gt; diffusers without changing any module's
/// ΔW = scale·B·A or the model's output on the flux2-tiny fixture.</summary>
public class LoraConversionTests(ITestOutputHelper output)
{
    const double Exact = 1e-6;
    static string PeftFixture => Path.Combine(TestPaths.Tiny, "lora", "pytorch_lora_weights.safetensors");

    /// <summary>ΔW per diffusers module (summed when a file holds several updates for one module).</summary>
    static Dictionary<string, Tensor> DeltaW(IEnumerable<LoraUpdate> updates)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var u in updates)
        {
            var d = u.Up.matmul(u.Down) * u.Scale;
            result[u.Module] = result.TryGetValue(u.Module, out var sum) ? sum + d : d;
        }
        return result;
    }

    static double MaxDeltaWDifference(string a, string b)
    {
        var da = DeltaW(LoraFile.Read(a));
        var db = DeltaW(LoraFile.Read(b));
        Assert.Equal(da.Keys.Order(), db.Keys.Order());
        return da.Keys.Max(k => (da[k] - db[k]).abs().max().item<float>());
    }

    static Tensor FixtureOutput(string lora)
    {
        using var model = Flux2TransformerFiles.FromFolder(Path.Combine(TestPaths.Tiny, "transformer"));
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "transformer_io.safetensors"));
        using var _ = no_grad();
        LoraLoader.Apply(model, lora);
        return model.Forward(io.Read("hidden_states"), io.Read("encoder_hidden_states"), io.Read("timestep"),
                             io.Read("guidance"), io.Read("img_ids"), io.Read("txt_ids"));
    }

    string Convert(string input, string to, string dir, string name)
    {
        var outPath = Path.Combine(dir, name);
        var r = CliRunner.Run("lora", "convert", input, outPath, "--to", to);
        output.WriteLine(r.Out + r.Err);
        Assert.Equal(0, r.Exit);
        return outPath;
    }

    [Fact]
    public void PeftToComfyUiToDiffusersToComfyUiKeepsOutputsAndDeltaW()
    {
        TorchRuntime.EnsureLoaded();
        var dir = TestPaths.TempDir();
        var comfy = Convert(PeftFixture, "comfyui", dir, "comfy.safetensors");
        var diffusers = Convert(comfy, "diffusers", dir, "diffusers.safetensors");
        var comfy2 = Convert(diffusers, "comfyui", dir, "comfy2.safetensors");

        // The fused qkv (rank 3·4, block-diagonal B) splits back into rank-4 q/k/v, so the second ComfyUI file is the
        // first.
        using (var f = SafetensorsFile.Open(diffusers))
        {
            Assert.Equal(new long[] { 4, 64 },
                f.Entries["transformer.transformer_blocks.0.attn.to_q.lora_A.weight"].Shape);
            Assert.Equal(new long[] { 64, 4 },
                f.Entries["transformer.transformer_blocks.0.attn.to_k.lora_B.weight"].Shape);
            Assert.Equal(24, f.Keys.Count());
        }
        using (var a = SafetensorsFile.Open(comfy))
        using (var b = SafetensorsFile.Open(comfy2))
        {
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            foreach (var k in a.Keys) Assert.True(a.Read(k).equal(b.Read(k)).all().item<bool>(), k);
        }

        foreach (var file in new[] { comfy, diffusers, comfy2 })
        {
            var dw = MaxDeltaWDifference(PeftFixture, file);
            output.WriteLine($"{Path.GetFileName(file)}: max |ΔW - ΔW_peft| {dw:E2}");
            Assert.True(dw <= Exact, $"{file}: ΔW differs by {dw}");
        }
        using var reference = FixtureOutput(PeftFixture);
        using var roundTrip = FixtureOutput(comfy2);
        using var viaDiffusers = FixtureOutput(diffusers);
        var err = Math.Max((roundTrip - reference).abs().max().item<float>(),
            (viaDiffusers - reference).abs().max().item<float>());
        output.WriteLine($"model output max abs difference after the round trip {err:E2}");
        Assert.True(err <= Exact, $"outputs differ by {err}");
    }

    /// <summary>A diffusers file holds lora_A and lora_B per module and nothing else (diffusers' loader refuses other
    /// keys); the scale is in B and the header says alpha = r, so ComfyUI (which applies B·A when no
    /// <c>&lt;module&gt;.alpha</c> tensor is there), diffusers (alpha/r = 1) and this kit get the same ΔW.</summary>
    [Fact]
    public void DiffusersFileBakesTheScaleIntoBWithAlphaEqualToR()
    {
        TorchRuntime.EnsureLoaded();
        var path = Path.Combine(TestPaths.TempDir(), "d.safetensors");
        var updates = LoraFile.Read(PeftFixture);
        Assert.All(updates, u => Assert.Equal(2.0, u.Scale)); // the fixture: r 4, lora_alpha 8
        LoraExport.WriteDiffusers(path, updates);
        using var f = SafetensorsFile.Open(path);
        var keys = updates.SelectMany(u => new[] { $"transformer.{u.Module}.lora_A.weight",
            $"transformer.{u.Module}.lora_B.weight" });
        Assert.Equal(keys.Order(StringComparer.Ordinal), f.Keys.Order(StringComparer.Ordinal));
        var peft = PeftAdapterMetadata.FromHeader(f.Metadata, path)!;
        Assert.Equal(4, peft.Rank);
        Assert.Equal(4.0, peft.Alpha);
        Assert.Empty(peft.RankPattern);
        Assert.Empty(peft.AlphaPattern);
        Assert.Equal("pt", f.Metadata["format"]);
        var read = LoraFile.Read(path);
        Assert.All(read, u => Assert.Equal(1.0, u.Scale));
        var expected = DeltaW(updates);
        var got = DeltaW(read);
        foreach (var u in updates)
        {
            using var up = f.Read($"transformer.{u.Module}.lora_B.weight");
            using var down = f.Read($"transformer.{u.Module}.lora_A.weight");
            using var comfy = up.matmul(down); // ComfyUI: no alpha tensor, scale 1
            float tolerance = (float)Exact * expected[u.Module].abs().max().item<float>();
            Assert.True((comfy - expected[u.Module]).abs().max().item<float>() <= tolerance, u.Module);
            Assert.True((got[u.Module] - expected[u.Module]).abs().max().item<float>() <= tolerance, u.Module);
        }
    }

    [Fact]
    public void MixedRanksAndScalesSurviveDiffusersThroughPatterns()
    {
        TorchRuntime.EnsureLoaded();
        var updates = new List<LoraUpdate>
        {
            new("transformer_blocks.0.attn.to_q", randn(4, 64), randn(64, 4), 0.5),
            new("transformer_blocks.1.attn.to_q", randn(4, 64), randn(64, 4), 0.5),
            new("transformer_blocks.0.attn.to_k", randn(8, 64), randn(64, 8), 0.5),  // other rank, same scale
            new("single_transformer_blocks.1.attn.to_out", randn(4, 256), randn(64, 4), 1.75), // other scale
        };
        var path = Path.Combine(TestPaths.TempDir(), "mixed.safetensors");
        LoraExport.WriteDiffusers(path, updates);
        using (var f = SafetensorsFile.Open(path))
        {
            var peft = PeftAdapterMetadata.FromHeader(f.Metadata, path)!;
            Assert.Equal(4, peft.Rank);
            Assert.Equal(4.0, peft.Alpha);
            Assert.Equal(new Dictionary<string, long> { ["transformer_blocks.0.attn.to_k"] = 8 }, peft.RankPattern);
            Assert.Equal(new Dictionary<string, double> { ["transformer_blocks.0.attn.to_k"] = 8.0 },
                peft.AlphaPattern);
        }
        var read = LoraFile.Read(path).ToDictionary(u => u.Module);
        var expected = DeltaW(updates);
        foreach (var u in updates)
        {
            Assert.Equal(1.0, read[u.Module].Scale);
            Assert.True(read[u.Module].Down.equal(u.Down).all().item<bool>());
            var d = DeltaW([read[u.Module]])[u.Module];
            Assert.True((d - expected[u.Module]).abs().max().item<float>()
                <= Exact * expected[u.Module].abs().max().item<float>());
        }
    }

    [Fact]
    public void PeftPatternKeysMatchWholeNamesOrDottedSuffixesOnly()
    {
        var peft = new PeftAdapterMetadata
        {
            Alpha = 4,
            Rank = 4,
            AlphaPattern = new Dictionary<string, double> { ["to_q"] = 8, ["transformer_blocks.1.attn.to_k"] = 2 }
        };
        Assert.Equal(2.0, peft.Scale("transformer_blocks.0.attn.to_q", 4));
        Assert.Equal(0.5, peft.Scale("transformer_blocks.1.attn.to_k", 4));
        Assert.Equal(1.0, peft.Scale("single_transformer_blocks.1.attn.to_k", 4)); // "single_" is no dotted prefix
        Assert.Equal(1.0, peft.Scale("transformer_blocks.11.attn.to_k", 4));
        Assert.Equal(1.0, new PeftAdapterMetadata().Scale("x", 4)); // no alpha at all: alpha = r
    }

    [Fact]
    public void DenseFusedQkvSharesAWhenSplitAndFusesBackAtTheSameRank()
    {
        TorchRuntime.EnsureLoaded();
        var dir = TestPaths.TempDir();
        var comfy = Path.Combine(dir, "dense.safetensors");
        // B with no block structure: the q/k/v parts cannot split the rank; each keeps all 6 rank directions.
        var tensors = new Dictionary<string, Tensor>
        {
            ["diffusion_model.double_blocks.1.txt_attn.qkv.lora_A.weight"] = randn(6, 64),
            ["diffusion_model.double_blocks.1.txt_attn.qkv.lora_B.weight"] = randn(192, 6),
            ["diffusion_model.single_blocks.0.linear1.lora_A.weight"] = randn(3, 64),
            ["diffusion_model.single_blocks.0.linear1.lora_B.weight"] = randn(576, 3),
        };
        SafetensorsWriter.Write(comfy, tensors, new Dictionary<string, string> { ["ss_output_name"] = "dense" });
        Assert.False(FusedLoraSplit.IsBlockDiagonal(
            tensors["diffusion_model.double_blocks.1.txt_attn.qkv.lora_B.weight"], 3));

        var diffusers = Convert(comfy, "diffusers", dir, "dense_diffusers.safetensors");
        var back = Convert(diffusers, "comfyui", dir, "dense_back.safetensors");
        using (var f = SafetensorsFile.Open(diffusers))
        {
            Assert.Equal(new long[] { 6, 64 },
                f.Entries["transformer.transformer_blocks.1.attn.add_v_proj.lora_A.weight"].Shape);
            Assert.Equal("dense", f.Metadata["ss_output_name"]); // other metadata is carried over
        }
        using (var f = SafetensorsFile.Open(back))
            Assert.Equal(new long[] { 192, 6 },
                f.Entries["diffusion_model.double_blocks.1.txt_attn.qkv.lora_B.weight"].Shape);
        Assert.True(MaxDeltaWDifference(comfy, diffusers) <= Exact);
        Assert.True(MaxDeltaWDifference(comfy, back) <= Exact);
    }

    [Fact]
    public void BlockDiagonalNeedsExactZerosOffTheDiagonal()
    {
        TorchRuntime.EnsureLoaded();
        var b = zeros(6, 3);
        for (int i = 0; i < 3; i++) b[i * 2, i] = tensor(1f + i);
        Assert.True(FusedLoraSplit.IsBlockDiagonal(b, 3));
        var parts = FusedLoraSplit.Split(arange(3 * 5, dtype: ScalarType.Float32).view(3, 5), b, 3);
        Assert.Equal(new long[] { 1, 5 }, parts[2].Down.shape);
        Assert.Equal(new[] { 10f, 11f, 12f, 13f, 14f }, parts[2].Down.data<float>().ToArray());
        b[0, 1] = tensor(1e-30f);
        Assert.False(FusedLoraSplit.IsBlockDiagonal(b, 3));
        Assert.Equal(new long[] { 3, 5 }, FusedLoraSplit.Split(zeros(3, 5), b, 3)[0].Down.shape);
    }

    [Fact]
    public void InfoShowsLayoutRanksScalesAndMetadata()
    {
        TorchRuntime.EnsureLoaded();
        var dir = TestPaths.TempDir();
        var comfy = Convert(PeftFixture, "comfyui", dir, "c.safetensors");
        var peftInfo = CliRunner.Run("lora", "info", PeftFixture);
        var comfyInfo = CliRunner.Run("lora", "info", comfy);
        output.WriteLine(peftInfo.Out + comfyInfo.Out);
        Assert.Equal(0, peftInfo.Exit);
        Assert.Contains("layout:   diffusers", peftInfo.Out);
        Assert.Contains("peft:     r 4, lora_alpha 8", peftInfo.Out);
        Assert.Contains("scale (alpha/r) 2 (12)", peftInfo.Out);
        Assert.Contains("lora_adapter_metadata", peftInfo.Out);
        Assert.Contains("layout:   comfyui", comfyInfo.Out);
        Assert.Contains("modules:  8 in the file; ranks 4 (6), 12 (2)", comfyInfo.Out);
        Assert.Contains("diffusion_model.double_blocks.0.img_attn.qkv", comfyInfo.Out);
        Assert.Contains("scale (alpha/r) 1 (12)", comfyInfo.Out);
    }

    [Fact]
    public void ConvertRefusesAnUnknownLayoutAndAMissingTarget()
    {
        var bad = CliRunner.Run("lora", "convert", PeftFixture, Path.Combine(TestPaths.TempDir(), "x.safetensors"),
            "--to", "kohya");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("--to must be comfyui or diffusers", bad.Err);
        var missing = CliRunner.Run("lora", "convert", PeftFixture, "x.safetensors");
        Assert.Equal(2, missing.Exit);
        Assert.Contains("--to comfyui|diffusers is required", missing.Err);
    }
}
