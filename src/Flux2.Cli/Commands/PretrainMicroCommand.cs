using Flux2.Micro.Pretraining;
using Flux2.Models;
using Flux2.Native;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 pretrain-micro</c>: reproduces the embedded FLUX.2-micro weights from the procedural
/// corpus.</summary>
public static class PretrainMicroCommand
{
    public const string Help = """
        ./flux2 pretrain-micro [--out output/flux2-micro] [--device auto|cpu|cuda:N] [--seed 20261126]
                               [--vae-steps 3000] [--transformer-steps 8000] [--corpus-size 100000]
                               [--vae-batch 64] [--transformer-batch 256] [--vae-only | --vae-from <dir>]
                               [--transformer-from <model dir>] [--transformer-lr 0.0005] [--tag-share 0]
                               [--vae-lr 0.0005] [--vae-look-share 0] [--vae-decoder-only]
          Trains the micro VAE, then the micro transformer (text encoder frozen at its seeded init), and writes a
          diffusers folder with a model card and pretrain_log.csv. About 10 minutes on one H100; runs on CPU too
          (slowly).
          --vae-only stops after stage 1 and writes <out>/vae; --vae-from <out>/vae runs stage 2 from it (same result
          as one run; for machines with a per-job time limit).
          --transformer-from starts stage 2 from that model's transformer/ instead of a random init (continued
          pretraining); --tag-share is the share of captions that start with a made-up trigger-like word.
          --vae-look-share is the share of VAE training images drawn in a random look (frames, outlines, solid
          backgrounds) so the VAE can reproduce looks a style LoRA teaches. --vae-decoder-only with --vae-from trains
          only that VAE's decoder for --vae-steps more steps (encoder and latent statistics kept, so the
          transformer's latents keep their meaning).
          To make it the kit's default, copy the folder to src/Flux2.Core/Micro/flux2-micro and rebuild.
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var d = new MicroRecipe();
        var recipe = d with
        {
            Seed = args.Int("seed", (int)d.Seed),
            VaeSteps = args.Int("vae-steps", d.VaeSteps, 1, 10_000_000),
            TransformerSteps = args.Int("transformer-steps", d.TransformerSteps, 1, 10_000_000),
            CorpusSize = args.Int("corpus-size", d.CorpusSize, 1, 10_000_000),
            VaeBatch = args.Int("vae-batch", d.VaeBatch, 1, 4096),
            TransformerBatch = args.Int("transformer-batch", d.TransformerBatch, 1, 4096),
            VaeFrom = args.Get("vae-from"),
            VaeOnly = args.Flag("vae-only"),
            VaeDecoderOnly = args.Flag("vae-decoder-only"),
            VaeLookShare = args.Double("vae-look-share", d.VaeLookShare, 0),
            VaeLearningRate = args.Double("vae-lr", d.VaeLearningRate, 1e-12),
            TransformerFrom = args.Get("transformer-from"),
            TransformerLearningRate = args.Double("transformer-lr", d.TransformerLearningRate, 1e-12),
            TagProbability = args.Double("tag-share", d.TagProbability, 0),
        };
        var outFolder = args.Get("out", Path.Combine("output", MicroModel.Name));
        var device = TorchRuntime.Device(args.Get("device", "auto"));
        args.EnsureAllUsed();
        if (recipe.VaeSteps < 1 || recipe.TransformerSteps < 1 || recipe.CorpusSize < recipe.TransformerBatch)
            throw new UserError("pretrain-micro: steps must be positive and " +
                "--corpus-size at least --transformer-batch");
        if (recipe.TagProbability > 1)
            throw new UserError($"pretrain-micro: --tag-share is a share of captions (0..1), got " +
                recipe.TagProbability);
        foreach (var part in new[] { "transformer", "text_encoder" })
            if (recipe.TransformerFrom is { } from && !File.Exists(Path.Combine(from, part, "config.json")))
                throw new UserError($"pretrain-micro: --transformer-from {from} has no {part}/config.json; pass a " +
                    "model folder written by pretrain-micro");
        var command = "./flux2 pretrain-micro " + string.Join(" ", Environment.GetCommandLineArgs().Skip(2));
        if (recipe.VaeLookShare > 1)
            throw new UserError($"pretrain-micro: --vae-look-share is a share of images (0..1), got " +
                recipe.VaeLookShare);
        if (recipe.VaeDecoderOnly && recipe.VaeFrom is null)
            throw new UserError("pretrain-micro: --vae-decoder-only trains the decoder of --vae-from <dir>; pass it");
        MicroPretrainer.OnShapeCorpus(recipe, device, o)
            .Run(outFolder, command.Trim());
        return 0;
    }
}
