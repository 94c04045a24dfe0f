using System.Diagnostics;
using System.Globalization;
using Flux2.Models;
using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Nn;
using Flux2.Pipeline;
using Flux2.Sampling;
using static TorchSharp.torch;

namespace Flux2.Micro.Pretraining;

/// <summary>Knobs of the reproducible micro recipe; the defaults are what the committed weights were made
/// with.</summary>
public sealed record MicroRecipe
{
    public long Seed { get; init; } = 20261126;
    public int VaeSteps { get; init; } = 3000;
    public int VaeBatch { get; init; } = 64;
    public int TransformerSteps { get; init; } = 8000;
    public int TransformerBatch { get; init; } = 256;
    public int CorpusSize { get; init; } = 100000;
    public int StatisticsSamples { get; init; } = 2048;
    /// <summary>A folder with a finished stage-1 VAE (config.json + weights, BN statistics set): skips stage 1. Lets
    /// the two stages run as separate jobs (e.g. under a per-job time limit) with the same result as one run.</summary>
    public string? VaeFrom { get; init; }
    /// <summary>A model folder whose <c>transformer/</c> stage 2 starts from instead of a random init (continued
    /// pretraining, e.g. after a change to the captions).</summary>
    public string? TransformerFrom { get; init; }
    /// <summary>Stop after stage 1 and write only <c>vae/</c> (the input of <see cref="VaeFrom"/>).</summary>
    public bool VaeOnly { get; init; }
    public double VaeLearningRate { get; init; } = 5e-4;
    /// <summary>Share of the VAE's training images drawn in a random <see cref="Data.Synthetic.FramedLook"/> (frames,
    /// outlines, solid backgrounds), so the VAE can reproduce looks a style LoRA teaches, which the plain corpus never
    /// shows. The committed weights were made with 0.</summary>
    public double VaeLookShare { get; init; }
    /// <summary>With <see cref="VaeFrom"/>: train that VAE's decoder for <see cref="VaeSteps"/> more steps and keep
    /// its encoder and latent statistics, so a transformer trained on its latents still fits.</summary>
    public bool VaeDecoderOnly { get; init; }
    /// <summary>Held-out images per reconstruction check (plain corpus, random looks, the style set's look); 0 skips
    /// the checks.</summary>
    public int ReconstructionChecks { get; init; } = 256;
    public double TransformerLearningRate { get; init; } = 5e-4;
    /// <summary>Share of the kept captions that start with a made-up trigger-like word (<see cref="TriggerLikeTag"/>).
    /// </summary>
    public double TagProbability { get; init; }
}

/// <summary>
/// Reproduces FLUX.2-micro: the VAE first, then the transformer on the VAE's latents, with the text encoder
/// frozen at its seeded initialisation (<see cref="MicroModel"/> says why), and writes the diffusers folder, a loss
/// log (CSV) and a model card.
/// </summary>
/// <param name="corpus">the transformer's images and captions</param>
/// <param name="vaeCorpus">the VAE's images</param>
public sealed class MicroPretrainer(MicroRecipe recipe, CaptionedImageSource corpus, CaptionedImageSource vaeCorpus,
    Device device, TextWriter log)
{
    /// <summary>The recipe on the procedural shape corpus: plain scenes for the transformer, scenes in random looks
    /// (<see cref="MicroRecipe.VaeLookShare"/>) for the VAE.</summary>
    public static MicroPretrainer OnShapeCorpus(MicroRecipe recipe, Device device, TextWriter log) =>
        new(recipe, ShapeCorpusSource.Create((int)recipe.Seed),
            ShapeCorpusSource.WithLooks((int)recipe.Seed, recipe.VaeLookShare), device, log);

    /// <summary>Held-out VAE checks start at this corpus index, past any pretraining run's.</summary>
    const long CheckFirstIndex = 1L << 40;

    public void Run(string outFolder, string command)
    {
        var total = Stopwatch.StartNew();
        Directory.CreateDirectory(outFolder);
        manual_seed(recipe.Seed);
        // On CUDA the fp32 matmuls and convolutions run on TF32 tensor cores (10-bit mantissa products, fp32
        // accumulation): several times faster on Ampere and later, and training from scratch does not need the
        // full fp32 products. Restored when the recipe ends, so later work in the process keeps strict fp32.
        var (matmulTf32, cudnnTf32) = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32);
        bool tf32 = device.type == TorchSharp.DeviceType.CUDA;
        backends.cuda.matmul.allow_tf32 = tf32 || matmulTf32;
        backends.cudnn.allow_tf32 = tf32 || cudnnTf32;
        try { RunStages(outFolder, command, total); }
        finally { (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32) = (matmulTf32, cudnnTf32); }
    }

    void RunStages(string outFolder, string command, Stopwatch total)
    {
        var lossLog = new List<string> { "stage,step,loss,lr" };
        using var vae = recipe.VaeFrom is { } vaeFrom ? AutoencoderKLFlux2.FromFolder(vaeFrom, device)
            : new AutoencoderKLFlux2(MicroModel.Vae, device);
        if (recipe.VaeFrom is null) RandomInit.Apply(vae, recipe.Seed);
        // Continued pretraining keeps the text encoder the transformer was trained with: the seeded init depends on
        // the device's random generator, so a CPU init differs from a CUDA one.
        var from = recipe.TransformerFrom;
        using var textEncoder = from is null
            ? new Flux2PromptEncoder(MicroModel.TextEncoder, MicroModel.TextEncoderOutLayers, device)
            : Flux2PromptEncoder.FromFolder(Path.Combine(from, "text_encoder"), MicroModel.TextEncoderOutLayers,
                device, ScalarType.Float32);
        using var transformer = from is null ? new Flux2Transformer(MicroModel.Transformer, device)
            : Flux2TransformerFiles.FromFolder(Path.Combine(from, "transformer"), device, ScalarType.Float32);
        if (from is null)
        {
            RandomInit.Apply(textEncoder.Model, recipe.Seed + 1);
            RandomInit.Apply(transformer, recipe.Seed + 2);
        }
        var tokenizer = new Gpt2PromptTokenizer(MicroModel.TextTokens);
        log.WriteLine($"FLUX.2-micro recipe {recipe} on {device}, TF32 matmuls " +
            (backends.cuda.matmul.allow_tf32 ? "on" : "off"));
        log.WriteLine($"  VAE {vae.parameters().Sum(p => p.numel()):N0} params, transformer " +
            $"{transformer.ParameterCount():N0}, text encoder " +
            $"{textEncoder.Model.parameters().Sum(p => p.numel()):N0} (frozen)");

        var sw = Stopwatch.StartNew();
        double vaeLoss = double.NaN, vaeSeconds = 0;
        var vaeLogPath = Path.Combine(outFolder, "vae", "pretrain_log.csv");
        var vaeStage = new VaePretrainer(vae, vaeCorpus, MicroModel.Resolution, device)
        {
            BatchSize = recipe.VaeBatch,
            LearningRate = recipe.VaeLearningRate,
            DecoderOnly = recipe.VaeDecoderOnly,
        };
        if (recipe.VaeFrom is not null) LogReconstruction(vaeStage, "before");
        if (recipe.VaeFrom is null || recipe.VaeDecoderOnly)
        {
            vaeStage.Train(recipe.VaeSteps, recipe.Seed, (step, loss) =>
            {
                vaeLoss = loss;
                if (step % 100 == 0 || step == 1)
                {
                    lossLog.Add(Row("vae", step, loss, recipe.VaeLearningRate));
                    log.WriteLine($"  vae step {step}/{recipe.VaeSteps} recon mse {loss:F5} " +
                        $"({sw.Elapsed.TotalSeconds:F0} s)");
                }
            });
            if (!recipe.VaeDecoderOnly) vaeStage.FitLatentStatistics(recipe.StatisticsSamples, recipe.Seed);
            vaeSeconds = sw.Elapsed.TotalSeconds;
            log.WriteLine($"VAE done in {vaeSeconds:F0} s, final recon mse {vaeLoss:F5}");
            LogReconstruction(vaeStage, "after");
            if (recipe.VaeOnly)
            {
                DiffusersFolderWriter.WriteVae(Path.Combine(outFolder, "vae"), vae, ScalarType.Float32);
                File.WriteAllLines(vaeLogPath, lossLog);
                log.WriteLine($"wrote stage 1 to {Path.Combine(outFolder, "vae")} ({vaeSeconds:F0} s); continue with " +
                    $"--vae-from");
                return;
            }
        }
        else
        {
            var previous = Path.Combine(recipe.VaeFrom, "pretrain_log.csv");
            if (File.Exists(previous))
            {
                lossLog = File.ReadAllLines(previous).ToList();
                var last = lossLog.Last().Split(',');
                vaeLoss = double.Parse(last[2], CultureInfo.InvariantCulture);
            }
            log.WriteLine($"VAE from {recipe.VaeFrom} (stage 1 done earlier, recon mse {vaeLoss:F5})");
        }

        sw.Restart();
        var (latents, captions) = TransformerPretrainer.EncodeCorpus(vae, corpus, recipe.CorpusSize,
            MicroModel.Resolution, device);
        log.WriteLine($"encoded {recipe.CorpusSize} corpus images to latents [{string.Join(", ", latents.shape)}] in " +
            $"{sw.Elapsed.TotalSeconds:F0} s (std {latents.std().item<float>():F3})");
        sw.Restart();
        double ditLoss = double.NaN, ema = double.NaN;
        new TransformerPretrainer(transformer, textEncoder, tokenizer, device)
        {
            BatchSize = recipe.TransformerBatch,
            LearningRate = recipe.TransformerLearningRate,
            TagProbability = recipe.TagProbability
        }
            .Train(latents, captions, recipe.TransformerSteps, recipe.Seed, (step, loss, lr) =>
            {
                ditLoss = loss;
                ema = double.IsNaN(ema) ? loss : 0.9 * ema + 0.1 * loss;
                lossLog.Add(Row("transformer", step, loss, lr));
                if (step % 500 == 0 || step == 1)
                    log.WriteLine($"  transformer step {step}/{recipe.TransformerSteps} loss {loss:F4} (smoothed " +
                        $"{ema:F4}) lr {lr:E1} ({sw.Elapsed.TotalSeconds:F0} s)");
            });
        latents.Dispose();
        var ditSeconds = sw.Elapsed.TotalSeconds;
        log.WriteLine($"transformer done in {ditSeconds:F0} s, final loss {ditLoss:F4} (smoothed {ema:F4})");

        DiffusersFolderWriter.Write(outFolder, transformer, vae, textEncoder, tokenizer, new FlowMatchEulerScheduler(),
            ScalarType.BFloat16);
        DiffusersFolderWriter.WriteSampleDefaults(outFolder, new ModelSampleDefaults(MicroModel.Resolution,
            MicroModel.Resolution, MicroModel.SampleSteps, MicroModel.GuidanceScale, ""));
        File.WriteAllLines(Path.Combine(outFolder, "pretrain_log.csv"), lossLog);
        File.WriteAllText(Path.Combine(outFolder, "README.md"), ModelCard.Text(recipe, command, device.ToString(),
            vaeLoss, ema, vaeSeconds, ditSeconds, total.Elapsed.TotalSeconds, vae.parameters().Sum(p => p.numel()),
            transformer.ParameterCount(), textEncoder.Model.parameters().Sum(p => p.numel())));
        log.WriteLine($"wrote {outFolder} in {total.Elapsed.TotalMinutes:F1} min");
    }

    /// <summary>Reconstruction MSE on held-out plain corpus scenes, scenes in random looks and the style set's look.
    /// </summary>
    void LogReconstruction(VaePretrainer vae, string when)
    {
        int count = recipe.ReconstructionChecks;
        if (count <= 0) return;
        double Check(CaptionedImageSource s, long first) => vae.ReconstructionError(s, first, count);
        log.WriteLine($"  VAE reconstruction mse {when}: corpus {Check(corpus, CheckFirstIndex):F5}, random looks " +
            $"{Check(vaeCorpus, CheckFirstIndex):F5}, midnight_tarot look " +
            $"{Check(ShapeCorpusSource.StyleLook(2), 0):F5} ({count} held-out images each)");
    }

    static string Row(string stage, int step, double loss, double lr) =>
        string.Create(CultureInfo.InvariantCulture, $"{stage},{step},{loss:G6},{lr:G4}");
}
