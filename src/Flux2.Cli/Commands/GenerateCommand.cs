using System.Diagnostics;
using Flux2.IO;
using Flux2.Lora;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn.Quantization;
using Flux2.Pipeline;
using Flux2.Training.Data;
using static TorchSharp.torch;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 generate</c>: prompt → image file with any FLUX.2 model (folder, cached repo id or
/// tiny-random), optional LoRAs and reference images (editing).</summary>
public static class GenerateCommand
{
    public const string Help = """
        ./flux2 generate --prompt "..." [--model tiny-random|<diffusers folder>|<owner/repo in HF cache>]
                         [--out output/image.png] [--width W] [--height H] [--steps N] [--guidance G] [--seed 0]
                         [--negative "..."]
                         [--lora file.safetensors] [--lora-strength 1.0] [--reference img1.png,img2.png]
                         [--device auto|cpu|cuda:N] [--dtype bf16|fp32] [--quantize qfloat8|qint8|uint2..uint8]
          --quantize: quantized transformer and text-encoder Linear weights, quantized while loading (8-bit: about
          half the memory; uint4: about a quarter).
          --negative: negative prompt of a model sampled with true classifier-free guidance (FLUX.2 [klein] base,
          flux2-micro; default: the empty prompt); unused by [dev] and step-distilled [klein].
          Defaults: the model's own (its sample_defaults.json: flux2-micro 128x128, 20 steps, guidance 2);
          tiny-random 64x64, 8 steps; a model folder without that file (FLUX.2-dev) 1024x1024, 50 steps, guidance 4.
        """;

    /// <summary>More sampling steps than any schedule uses; the bound keeps a typo from running for days.</summary>
    const int MaxSteps = 1000;

    public static int Run(CliArgs args, TextWriter o)
    {
        var prompt = args.Get("prompt")
            ?? throw new UserError("generate: --prompt is required, e.g. --prompt \"a " +
                "red circle on a blue background\"");
        var spec = args.Get("model", Flux2Models.TinyRandom);
        bool tiny = spec == Flux2Models.TinyRandom;
        var native = ModelSampleDefaults.For(spec);
        int width = args.Int("width", native.Width), height = args.Int("height", native.Height);
        int steps = args.Int("steps", native.SampleSteps);
        float guidance = (float)args.Double("guidance", native.GuidanceScale);
        bool sizeGiven = new[] { "width", "height", "steps", "guidance" }.Any(k => args.Get(k) is not null);
        long seed = args.Int("seed", 0);
        var negativePrompt = args.Get("negative");
        var outPath = args.Get("out", Path.Combine("output", "generate.png"));
        var lora = args.Get("lora");
        double strength = args.Double("lora-strength", 1.0);
        var references = args.Get("reference")?.Split(',', StringSplitOptions.RemoveEmptyEntries)
            ?? Array.Empty<string>();
        var device = TorchRuntime.Device(args.Get("device", "auto"));
        var dtype = args.Get("dtype", device.type == TorchSharp.DeviceType.CUDA ? "bf16" : "fp32") switch
        {
            "bf16" => ScalarType.BFloat16,
            "fp32" => ScalarType.Float32,
            var d => throw new UserError($"generate: --dtype must be bf16 or fp32, got '{d}'"),
        };
        var quantName = args.Get("quantize");
        QuantType? quant = quantName is null ? null
            : QuantType.TryParse(quantName, out var parsed) ? parsed :
                throw new UserError("generate: --quantize: " + QuantType.UnsupportedMessage(quantName));
        args.EnsureAllUsed();
        if (steps < 1) throw new UserError($"generate: --steps must be at least 1, got {steps}");
        if (steps > MaxSteps) throw new UserError($"generate: --steps must be at most {MaxSteps}, got {steps}");
        Flux2Pipeline.CheckImageSize(height, width, "generate: --width/--height");
        if (lora != null && !File.Exists(lora)) throw new UserError($"generate: --lora {lora}: file not found");
        foreach (var r in references)
            if (ImageFileCheck.Size(r, 16, out var why) is null)
                throw new UserError($"generate: --reference {r}: {why}");
        OutputFile.Check(outPath, "generate --out");

        var sw = Stopwatch.StartNew();
        using var models = Flux2Models.Load(spec, device, tiny ? null : dtype, m => o.WriteLine($"  {m}"),
                                            quantization: new ModelQuantization(quant, quant));
        models.Pipeline.LatentGrid(height, width); // validates the size before any work
        o.WriteLine($"sample {width}x{height}, {steps} steps, guidance {guidance} " +
            $"({(sizeGiven ? "options as given, the rest " : "")}{native.Source})");
        o.WriteLine($"model {models.Origin}: transformer {models.Transformer.ParameterCount():N0} params on {device} " +
            $"({sw.Elapsed.TotalSeconds:F1} s)");
        if (lora != null)
        {
            var adapters = LoraLoader.Apply(models.Transformer, lora, strength);
            o.WriteLine($"LoRA {lora}: {adapters.Count} modules, strength {strength}");
        }
        using var _ = no_grad();
        using var embeds = models.EncodePrompts(new[] { prompt });
        var refs = references.Select(r => ImageFile.Load(r, maxPixels: 1024 * 1024)).ToList();
        using var noise = models.Pipeline.InitialNoise(1, height, width, seed, device);
        sw.Restart();
        if (negativePrompt is not null && !models.SamplesWithTrueCfg)
            o.WriteLine("  --negative is unused: this model samples without classifier-free guidance");
        using var negative = models.NegativeEmbedsForGuidance(negativePrompt ?? "");
        using var images = models.Pipeline.Generate(embeds, noise, steps, guidance, refs,
            (i, n) => Progress.Bar(o, "sampling", i, n, sw.Elapsed), negative);
        foreach (var r in refs) r.Dispose();
        ImageFile.SavePng(images[0], outPath);
        o.WriteLine($"wrote {outPath} ({width}x{height}, {steps} steps, guidance {guidance}, seed {seed}) in " +
            $"{sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
