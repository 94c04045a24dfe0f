using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Micro.Pretraining;

/// <summary>
/// Stage 2 of the micro recipe: trains the whole transformer from scratch with FLUX.2's rectified-flow objective
/// (docs/flux2-model.md §7.4): x_t = (1 − t)·x0 + t·ε, target ε − x0, t logit-normal (more weight on mid noise
/// levels), on BN-normalised latents of the corpus, which are encoded once by the frozen VAE and kept on the device.
/// Captions are dropped (empty prompt) with probability <see cref="CaptionDropout"/> so the model also learns the
/// unconditional velocity that true classifier-free guidance needs. A share <see cref="TagProbability"/> of the kept
/// captions starts with a made-up word (<see cref="TriggerLikeTag"/>), as a LoRA's captions start with its trigger.
/// </summary>
public sealed class TransformerPretrainer(Flux2Transformer transformer, Flux2PromptEncoder textEncoder,
    PromptTokenizer tokenizer, Device device)
{
    public double LearningRate { get; init; } = 5e-4;
    public int BatchSize { get; init; } = 128;
    public double CaptionDropout { get; init; } = 0.1;
    public int WarmupSteps { get; init; } = 500;
    /// <summary>Share of the kept captions that get a <see cref="TriggerLikeTag"/> in front.</summary>
    public double TagProbability { get; init; }

    /// <summary>Encodes <paramref name="count"/> corpus examples to training latents [N, C, h, w] on the
    /// device.</summary>
    public static (Tensor latents, string[] captions) EncodeCorpus(AutoencoderKLFlux2 vae, CaptionedImageSource corpus,
        int count, int size, Device device, int batch = 256)
    {
        using var _ = no_grad();
        var parts = new List<Tensor>();
        var captions = new string[count];
        for (int start = 0; start < count; start += batch)
        {
            var idx = Enumerable.Range(start, Math.Min(batch, count - start)).Select(i => (long)i).ToList();
            var (images, caps) = CaptionedImageBatch.Make(corpus, idx, size, device);
            using (images) parts.Add(vae.EncodeToTrainingLatent(images));
            caps.CopyTo(captions, start);
        }
        var latents = cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return (latents, captions);
    }

    public void Train(Tensor latents, string[] captions, int steps, long seed,
        Action<int, double, double>? onStep = null)
    {
        foreach (var p in transformer.parameters()) p.requires_grad = true;
        transformer.train();
        using var optimizer = optim.AdamW(transformer.parameters(), lr: LearningRate, weight_decay: 0.01);
        var rng = new Random((int)seed);
        manual_seed(seed);
        long n = latents.shape[0], h = latents.shape[2], w = latents.shape[3];
        using var imgIds = PositionIds.Image((int)h, (int)w, device);
        using var txtIds = PositionIds.Text(tokenizer.MaxLength, device);
        for (int step = 1; step <= steps; step++)
        {
            using var scope = NewDisposeScope();
            double lr = LearningRate * Math.Min(1.0, step / (double)WarmupSteps) * CosineDecay(step, steps);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            var idx = Enumerable.Range(0, BatchSize).Select(_ => (long)rng.NextInt64(n)).ToArray();
            var prompts = idx.Select(i => Caption(captions[i], rng)).ToArray();
            var x0 = latents.index_select(0, tensor(idx, device: device));
            Tensor context;
            using (no_grad())
            {
                var (ids, mask) = tokenizer.Encode(prompts, device);
                context = textEncoder.Encode(ids, mask);
            }
            var t = sigmoid(randn(BatchSize, device: device));                       // logit-normal(0, 1)
            var noise = randn_like(x0);
            var tt = t.view(-1, 1, 1, 1);
            var xt = (1 - tt) * x0 + tt * noise;
            var v = transformer.Forward(LatentPacking.Pack(xt), context, t, null, imgIds, txtIds);
            var loss = nn.functional.mse_loss(v, LatentPacking.Pack(noise - x0));
            optimizer.zero_grad();
            loss.backward();
            var gradNorm = nn.utils.clip_grad_norm_(transformer.parameters(), 1.0);
            optimizer.step();
            if (onStep != null && (step % 50 == 0 || step == 1 || step == steps)) onStep(step, loss.item<float>(), lr);
        }
        transformer.eval();
        foreach (var p in transformer.parameters()) p.requires_grad = false;
    }

    /// <summary>The text one training example is conditioned on: empty (dropout), tagged, or the caption.</summary>
    string Caption(string caption, Random rng) =>
        rng.NextDouble() < CaptionDropout ? ""
        : TagProbability > 0 && rng.NextDouble() < TagProbability ? TriggerLikeTag.Make(rng) + " " + caption : caption;

    static double CosineDecay(int step, int total) => 0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * step / total));
}
