using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Pipeline;

/// <summary>
/// Text-to-image (and reference-image editing) with FLUX.2 (diffusers <c>Flux2Pipeline</c>; docs/flux2-model.md §3,
/// §6): prompt embeds → Euler loop over the shifted sigma schedule in packed-latent space → unpack → BatchNorm
/// de-normalise → unpatchify → VAE decode → image in 0..1. FLUX.2 [dev] is guidance-distilled: one forward per
/// step, the scale enters through the guidance embedder (§6.3).
/// </summary>
/// <paramref name="vaeInUse"/>: brings the VAE to the device while it encodes or decodes (low_vram keeps it on the CPU
/// otherwise; <see cref="Flux2Models.InUse"/>).
public sealed class Flux2Pipeline(Flux2Transformer transformer, AutoencoderKLFlux2 vae,
                                  FlowMatchEulerScheduler scheduler, Func<IDisposable?>? vaeInUse = null)
{
    public Flux2Transformer Transformer { get; } = transformer;
    public AutoencoderKLFlux2 Vae { get; } = vae;
    public FlowMatchEulerScheduler Scheduler { get; } = scheduler;
    ScalarType VaeDType => Vae.parameters().First().dtype;

    /// <summary>Pixels per latent token: the VAE's downsampling × the 2×2 patchify (16 for FLUX.2,
    /// docs/flux2-model.md §3.1).</summary>
    public int PixelsPerToken => Vae.Config.ScaleFactor * Vae.Config.PatchSize[0];

    /// <summary>Height/width in pixels → latent token grid.</summary>
    /// <summary>The largest image side sampled or trained: 8192 pixels (64 megapixels), sixteen times the 4
    /// megapixels FLUX.2 is made for. A larger size would only fail on allocation, minutes into a run.</summary>
    public const int MaxImageSide = 8192;

    /// <summary>Refuses (<see cref="UserError"/> starting with <paramref name="what"/>) a side below 1 or above
    /// <see cref="MaxImageSide"/>; needs no model, so callers check before loading one.</summary>
    public static void CheckImageSize(int height, int width, string what)
    {
        if (height < 1 || width < 1 || height > MaxImageSide || width > MaxImageSide)
            throw new UserError($"{what}: image size {width}x{height} must be 1..{MaxImageSide} pixels a side");
    }

    public (int h, int w) LatentGrid(int height, int width)
    {
        CheckImageSize(height, width, "image size");
        int f = PixelsPerToken;
        if (height % f != 0 || width % f != 0 || height <= 0 || width <= 0)
            throw new UserError($"image size {width}x{height} must be positive multiples of {f} " +
                                $"(VAE {Vae.Config.ScaleFactor}x, patchify 2x)");
        return (height / f, width / f);
    }

    /// <summary>Noise in the packed latent space, [B, 4·latent_channels, h, w] (docs/flux2-model.md §3.1). Drawn on
    /// the CPU from the seed and then moved, so a seed gives the same image start on every device.</summary>
    public Tensor InitialNoise(int batch, int height, int width, long seed, Device? device = null)
    {
        var (h, w) = LatentGrid(height, width);
        using var gen = new Generator((ulong)seed);
        using var noise = randn(new long[] { batch, Vae.Config.PatchifiedChannels, h, w }, generator: gen);
        return noise.to(device ?? CPU);
    }

    /// <summary>
    /// Runs the sampler. <paramref name="initialLatents"/> [B, C, h, w] patchified noise;
    /// <paramref name="promptEmbeds"/> [B, L, joint_dim]; <paramref name="referenceImages"/> optional [3, H, W] images
    /// in −1..1 (editing). Returns images [B, 3, H, W] in 0..1. <paramref name="onStep"/> is called after each step
    /// (progress). Guidance: a guidance-distilled model (FLUX.2 [dev], guidance embedder) takes the scale as an input,
    /// one forward per step. A model without that embedder ([klein] base, FLUX.2-micro) uses true classifier-free
    /// guidance when <paramref name="negativeEmbeds"/> ([1 or B, L', joint_dim], e.g. the empty prompt's; L' may
    /// differ from L) are given and the scale is above 1, as diffusers' <c>Flux2KleinPipeline</c>: per step a
    /// conditional and an unconditional forward, each with the text position ids of its own length and guidance =
    /// None (one batched forward when both texts have the same length, as FLUX.2-micro's do), mixed v = v_neg +
    /// s·(v_pos − v_neg) (docs/flux2-model.md §6.3). A step-distilled [klein] is sampled with no negative: one
    /// forward per step, the scale unused.
    /// </summary>
    public Tensor Generate(Tensor promptEmbeds, Tensor initialLatents, int steps, float guidance,
                           IReadOnlyList<Tensor>? referenceImages = null, Action<int, int>? onStep = null,
                           Tensor? negativeEmbeds = null)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var device = initialLatents.device;
        var dtype = Transformer.x_embedder.weight.dtype;
        long b = initialLatents.shape[0], h = initialLatents.shape[2], w = initialLatents.shape[3];
        var latents = LatentPacking.Pack(initialLatents).to(ScalarType.Float32);
        var imgIds = PositionIds.Image((int)h, (int)w, device);
        var txtIds = PositionIds.Text((int)promptEmbeds.shape[1], device);
        var context = promptEmbeds.to(dtype);
        bool cfg = !Transformer.Config.GuidanceEmbeds && negativeEmbeds is not null && guidance > 1f;
        var negContext = cfg ? negativeEmbeds!.to(dtype, device).expand(b, -1, -1) : null;
        var negTxtIds = cfg ? PositionIds.Text((int)negContext!.shape[1], device) : null;

        Tensor? refTokens = null;
        if (referenceImages is { Count: > 0 })
        {
            var tokens = new List<Tensor>();
            var ids = new List<Tensor> { imgIds };
            using var vaeHere = vaeInUse?.Invoke();
            for (int k = 0; k < referenceImages.Count; k++)
            {
                var lat = Vae.EncodeToTrainingLatent(referenceImages[k].unsqueeze(0).to(VaeDType, device));
                tokens.Add(LatentPacking.Pack(lat).expand(b, -1, -1));
                ids.Add(PositionIds.Image((int)lat.shape[2], (int)lat.shape[3], device, PositionIds.ReferenceTime(k)));
            }
            refTokens = cat(tokens, 1).to(dtype);
            imgIds = cat(ids, 0);
        }

        var sigmas = Scheduler.Sigmas(steps, (int)(h * w));
        var g = full(new long[] { b }, guidance, ScalarType.Float32, device);
        for (int i = 0; i < steps; i++)
        {
            using var stepScope = NewDisposeScope();
            // The pipeline hands the model timestep/1000 with timestep = σ·1000 (docs/flux2-model.md §2.12).
            var t = full(new long[] { b }, sigmas[i] * Scheduler.NumTrainTimesteps, ScalarType.Float32, device) /
                Scheduler.NumTrainTimesteps;
            var hidden = latents.to(dtype);
            if (refTokens is not null) hidden = cat(new[] { hidden, refTokens }, 1);
            Tensor v;
            if (cfg && negContext!.shape[1] == context.shape[1])
            {
                // Same text length: both passes as one batch [negative; positive], one forward.
                var both = Transformer.Forward(cat(new[] { hidden, hidden }, 0), cat(new[] { negContext, context }, 0),
                    cat(new[] { t, t }, 0), null, imgIds, txtIds)[.., ..(int)(h * w)].chunk(2, 0);
                v = both[0] + guidance * (both[1] - both[0]);
            }
            else
            {
                v = Transformer.Forward(hidden, context, t, Transformer.Config.GuidanceEmbeds ? g : null, imgIds,
                    txtIds)[.., ..(int)(h * w)];
                if (cfg)
                {
                    var vNeg =
                        Transformer.Forward(hidden, negContext!, t, null, imgIds, negTxtIds!)[.., ..(int)(h * w)];
                    v = vNeg + guidance * (v - vNeg);
                }
            }
            // Euler step in fp32 (the reference upcasts the sample), x += (σ_next − σ)·v.
            latents.add_(v.to(ScalarType.Float32) * (sigmas[i + 1] - sigmas[i]));
            onStep?.Invoke(i + 1, steps);
        }
        var z = LatentPacking.Unpack(latents, h, w).to(dtype);
        Tensor image;
        using (vaeInUse?.Invoke()) image = Vae.DecodeFromTrainingLatent(z.to(VaeDType));
        return (image.to(ScalarType.Float32) / 2 + 0.5).clamp(0, 1).MoveToOuterDisposeScope();
    }
}
