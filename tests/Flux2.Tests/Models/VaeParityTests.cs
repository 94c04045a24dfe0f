using Flux2.IO;
using Flux2.Models.Vae;
using Flux2.Native;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Models;

/// <summary>Parity of <see cref="AutoencoderKLFlux2"/> with diffusers on the flux2-tiny fixture (fp32, CPU).</summary>
public class VaeParityTests(ITestOutputHelper output)
{
    const double Tolerance = 1e-4;
    static string VaeFolder => Path.Combine(TestPaths.Tiny, "vae");
    static string IoFile => Path.Combine(TestPaths.Tiny, "vae_io.safetensors");

    static AutoencoderKLFlux2 LoadTiny()
    {
        TorchRuntime.EnsureLoaded();
        return AutoencoderKLFlux2.FromFolder(VaeFolder, CPU, ScalarType.Float32);
    }

    double Check(string name, Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var diff = (actual - expected).abs().max();
        var err = diff.item<float>();
        output.WriteLine($"{name}: shape [{string.Join(", ", actual.shape)}], max abs error {err:E3}");
        Assert.True(err <= Tolerance, $"{name}: max abs error {err:E3} > {Tolerance:E0}");
        return err;
    }

    [Fact]
    public void EncoderMatchesReference()
    {
        using var vae = LoadTiny();
        using var io = SafetensorsSource.OpenFile(IoFile);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var image = io.Read("image");
        using var dist = vae.Encode(image);
        Check("latent_mean", dist.Mean, io.Read("latent_mean"));
        Check("latent_std", dist.Std, io.Read("latent_std"));
    }

    [Fact]
    public void TrainingLatentMatchesReference()
    {
        using var vae = LoadTiny();
        using var io = SafetensorsSource.OpenFile(IoFile);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var latent = vae.EncodeToTrainingLatent(io.Read("image"));
        Check("latent_patchified_normalized", latent, io.Read("latent_patchified_normalized"));
    }

    [Fact]
    public void DecoderMatchesReference()
    {
        using var vae = LoadTiny();
        using var io = SafetensorsSource.OpenFile(IoFile);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var decoded = vae.Decode(io.Read("z"));
        Check("decoded", decoded, io.Read("decoded"));
    }

    [Fact]
    public void TrainingLatentRoundTripsThroughDecode()
    {
        using var vae = LoadTiny();
        using var io = SafetensorsSource.OpenFile(IoFile);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // DecodeFromTrainingLatent(normalize(patchify(z))) must equal Decode(z).
        var z = io.Read("z");
        var latent = vae.Normalize(LatentPacking.Patchify(z));
        Check("decode_from_training_latent", vae.DecodeFromTrainingLatent(latent), io.Read("decoded"));
    }

    [Fact]
    public void ConfigFromFixtureMatchesTinyPreset()
    {
        var cfg = VaeConfig.FromJson(Path.Combine(VaeFolder, "config.json"));
        var tiny = VaeConfig.Tiny;
        Assert.Equal(tiny.BlockOutChannels, cfg.BlockOutChannels);
        Assert.Equal(tiny.LayersPerBlock, cfg.LayersPerBlock);
        Assert.Equal(tiny.NormNumGroups, cfg.NormNumGroups);
        Assert.Equal(tiny.LatentChannels, cfg.LatentChannels);
        Assert.Equal(tiny.PatchSize, cfg.PatchSize);
        Assert.Equal(1e-4, cfg.BatchNormEps);
        Assert.Null(cfg.DecoderBlockOutChannels);
        Assert.Equal(16, cfg.PatchifiedChannels);
    }
}
