using Flux2.Models.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Micro.Pretraining;

/// <summary>
/// Stage 1 of the micro recipe: trains the VAE as a plain KL autoencoder (reconstruction MSE on a posterior sample
/// plus a small KL term that keeps the latent smooth and bounded), then sets the BatchNorm statistics FLUX.2 uses to
/// normalise patchified latents (docs/flux2-model.md §5.3) from the trained encoder's means over a sample of the
/// corpus.
/// </summary>
public sealed class VaePretrainer(AutoencoderKLFlux2 vae, CaptionedImageSource corpus, int size, Device device)
{
    public double KlWeight { get; init; } = 1e-6;
    public double LearningRate { get; init; } = 5e-4;
    public int BatchSize { get; init; } = 32;
    /// <summary>Train the decoder (and post_quant_conv) only: the encoder and the latent statistics stay, so the
    /// latents a transformer was trained on keep their meaning.</summary>
    public bool DecoderOnly { get; init; }

    public void Train(int steps, long seed, Action<int, double>? onStep = null)
    {
        var trained = DecoderOnly ? vae.named_parameters().Where(p => !IsEncoder(p.name)).Select(p => p.parameter)
            .ToList() : vae.parameters().ToList();
        foreach (var p in vae.parameters()) p.requires_grad = false;
        foreach (var p in trained) p.requires_grad = true;
        vae.train();
        if (DecoderOnly) vae.Encoder.eval();
        using var optimizer = optim.AdamW(trained, lr: LearningRate, weight_decay: 0.0);
        var rng = new Random((int)seed);
        for (int step = 1; step <= steps; step++)
        {
            using var scope = NewDisposeScope();
            var indices = Enumerable.Range(0, BatchSize).Select(_ => (long)rng.Next()).ToList();
            var (images, _) = CaptionedImageBatch.Make(corpus, indices, size, device);
            using var dist = vae.Encode(images);
            var z = dist.Mean + dist.Std * randn_like(dist.Mean);
            var recon = vae.Decode(z);
            var rec = nn.functional.mse_loss(recon, images);
            var kl = 0.5 * (dist.Mean.square() + dist.Std.square() - 1 - dist.LogVar).mean();
            var loss = rec + KlWeight * kl * dist.Mean.shape[1];
            optimizer.zero_grad();
            loss.backward();
            nn.utils.clip_grad_norm_(trained, 1.0);
            optimizer.step();
            onStep?.Invoke(step, rec.item<float>());
        }
        vae.eval();
        foreach (var p in vae.parameters()) p.requires_grad = false;
    }

    static bool IsEncoder(string name) => name.StartsWith("encoder.") || name.StartsWith("quant_conv.");

    /// <summary>Mean squared error (images in −1..1) of decode(posterior mean) over <paramref name="count"/>
    /// examples of <paramref name="source"/> from index <paramref name="first"/>.</summary>
    public double ReconstructionError(CaptionedImageSource source, long first, int count)
    {
        using var _ = no_grad();
        double total = 0;
        for (int done = 0; done < count; done += BatchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(BatchSize, count - done);
            var indices = Enumerable.Range(0, n).Select(i => first + done + i).ToList();
            var (images, _) = CaptionedImageBatch.Make(source, indices, size, device);
            using var dist = vae.Encode(images);
            total += nn.functional.mse_loss(vae.Decode(dist.Mean), images).item<float>() * n;
        }
        return total / count;
    }

    /// <summary>Sets bn.running_mean/var to the per-channel statistics of patchified latent means over
    /// <paramref name="samples"/> corpus images.</summary>
    public void FitLatentStatistics(int samples, long seed)
    {
        using var _ = no_grad();
        var rng = new Random((int)seed + 1);
        var batches = new List<Tensor>();
        for (int done = 0; done < samples; done += BatchSize)
        {
            var indices = Enumerable.Range(0, Math.Min(BatchSize, samples - done)).Select(_ => (long)rng.Next())
                .ToList();
            var (images, _) = CaptionedImageBatch.Make(corpus, indices, size, device);
            using (images)
            using (var dist = vae.Encode(images))
                batches.Add(LatentPacking.Patchify(dist.Mean, vae.Config.PatchSize[0], vae.Config.PatchSize[1])
                    .to(ScalarType.Float32));
        }
        using var all = cat(batches, 0);
        foreach (var b in batches) b.Dispose();
        using var perChannel = all.transpose(0, 1).flatten(1);
        vae.BatchNorm.RunningMean.copy_(perChannel.mean(new long[] { 1 }));
        vae.BatchNorm.RunningVar.copy_(perChannel.var(1));
    }
}
