using Flux2.IO;
using Flux2.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>
/// The FLUX.2 VAE (diffusers <c>AutoencoderKLFlux2</c>; BFL <c>AutoEncoder</c>; docs/flux2-model.md §5). Fields carry
/// the checkpoint names: <c>encoder</c>, <c>decoder</c>, <c>quant_conv</c>, <c>post_quant_conv</c>, <c>bn</c>.
/// Image [B, 3, H, W] in −1..1 ⇄ z [B, latent, H/8, W/8] ⇄ training latent [B, 4·latent, H/16, W/16]
/// (normalized). forward(image) = Decode(Encode(image).Mean), like diffusers with sample_posterior=False.
/// </summary>
public sealed class AutoencoderKLFlux2 : nn.Module<Tensor, Tensor>
{
    public VaeConfig Config { get; }
    readonly Encoder encoder;
    readonly Decoder decoder;
    readonly Conv2d? quant_conv;
    readonly Conv2d? post_quant_conv;
    readonly LatentBatchNorm bn;

    public AutoencoderKLFlux2(VaeConfig config, Device? device = null, ScalarType? dtype = null)
        : base(nameof(AutoencoderKLFlux2))
    {
        config.Validate();
        Config = config;
        encoder = new Encoder(config, device, dtype);
        decoder = new Decoder(config, device, dtype);
        long lat = config.LatentChannels;
        if (config.UseQuantConv) quant_conv = nn.Conv2d(2 * lat, 2 * lat, 1, device: device, dtype: dtype);
        if (config.UsePostQuantConv) post_quant_conv = nn.Conv2d(lat, lat, 1, device: device, dtype: dtype);
        bn = new LatentBatchNorm(config.PatchifiedChannels, config.BatchNormEps, device, dtype);
        RegisterComponents();
    }

    public Encoder Encoder => encoder;
    public Decoder Decoder => decoder;
    public LatentBatchNorm BatchNorm => bn;

    /// <summary>Builds the model from a diffusers VAE folder (<c>config.json</c> +
    /// <c>diffusion_pytorch_model.safetensors</c>), loading every tensor strictly by name (a config/weights mismatch
    /// throws <see cref="WeightLoadException"/>).</summary>
    public static AutoencoderKLFlux2 FromFolder(string vaeFolder, Device? device = null, ScalarType? dtype = null)
    {
        var configPath = Path.Combine(vaeFolder, "config.json");
        var weightsPath = Path.Combine(vaeFolder, "diffusion_pytorch_model.safetensors");
        if (!File.Exists(weightsPath))
            throw new FileNotFoundException($"VAE weights not found: {weightsPath}", weightsPath);
        var config = VaeConfig.FromJson(configPath);
        var model = new AutoencoderKLFlux2(config, device, dtype);
        try
        {
            using var source = SafetensorsSource.OpenFile(weightsPath);
            model.LoadWeights(source);
        }
        catch { model.Dispose(); throw; }
        return model;
    }

    /// <summary>Copies a checkpoint's tensors into this model (strict, by diffusers key name) and sets eval
    /// mode.</summary>
    public void LoadWeights(ITensorSource source)
    {
        ModuleLoader.Load(this, source);
        eval();
    }

    /// <summary>Image [B, in, H, W] in −1..1 → posterior over z (moments after quant_conv).</summary>
    public LatentDist Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        var moments = encoder.forward(image);
        if (quant_conv is not null) moments = quant_conv.forward(moments);
        var dist = new LatentDist(moments);
        dist.Mean.MoveToOuterDisposeScope(); dist.LogVar.MoveToOuterDisposeScope(); dist.Std.MoveToOuterDisposeScope();
        return dist;
    }

    /// <summary>z [B, latent, h, w] → image [B, out, h·f, w·f] (not clamped).</summary>
    public Tensor Decode(Tensor z)
    {
        using var scope = NewDisposeScope();
        var h = post_quant_conv is null ? z : post_quant_conv.forward(z);
        return decoder.forward(h).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor image)
    {
        using var dist = Encode(image);
        return Decode(dist.Mean);
    }

    /// <summary>The training-time latent (docs/flux2-model.md §5.3): posterior mean → patchify →
    /// BN-normalize.</summary>
    public Tensor EncodeToTrainingLatent(Tensor image)
    {
        using var scope = NewDisposeScope();
        using var dist = Encode(image);
        var patched = LatentPacking.Patchify(dist.Mean, Config.PatchSize[0], Config.PatchSize[1]);
        return bn.Normalize(patched).MoveToOuterDisposeScope();
    }

    /// <summary>Inverse path for generation: BN-denormalize → unpatchify → <see cref="Decode"/>.</summary>
    public Tensor DecodeFromTrainingLatent(Tensor latent)
    {
        using var scope = NewDisposeScope();
        var z = LatentPacking.Unpatchify(bn.Denormalize(latent), Config.PatchSize[0], Config.PatchSize[1]);
        return Decode(z).MoveToOuterDisposeScope();
    }

    /// <summary>BN-normalize a patchified latent with this model's running stats.</summary>
    public Tensor Normalize(Tensor patchified) => bn.Normalize(patchified);

    /// <summary>Inverse of <see cref="Normalize"/>.</summary>
    public Tensor Denormalize(Tensor normalized) => bn.Denormalize(normalized);
}
