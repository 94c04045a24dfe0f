using Flux2.Evaluation;
using Flux2.Native;
using Flux2.Pipeline;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 eval</c>: trigger strength and bleed of a LoRA (<see cref="LoraEvaluator"/>), printed as a
/// table and written as eval.json / eval.md next to the LoRA.</summary>
public static class EvalCommand
{
    public const string Help = """
        ./flux2 eval <run folder | lora.safetensors> [--model flux2-micro] [--dataset datasets-sample/midnight_tarot]
                     [--trigger midnight_tarot] [--class-word robot] [--steps 20] [--seeds 4] [--guidance 4]
                     [--width 128] [--height 128] [--lora-strength 1.0] [--device auto|cpu|cuda:N] [--out <folder>]
          Generates fixed prompts x seeds with the base model and with the LoRA, with and without the trigger,
          and reports
            trigger strength = 1 - d(LoRA+trigger, dataset) / d(base+trigger, dataset)
                               (0 no change, 1 the dataset's look)
            bleed            = mean |LoRA - base| per pixel on prompts without the trigger (0..1; small is good)
            content kept     = share of LoRA+trigger images that still show the prompt's colours, places and
                               shape classes (docs/evaluation.md); style LoRAs also get held-out strength on
                               prompts whose (shape, colour) pairs no dataset caption shows
          d is a colour/texture distance (histogram, channel mean/std, edge energy). Model, dataset, trigger and
          sample size default to the job config the trainer stored in the LoRA's metadata; a LoRA from elsewhere needs
          them given.
          Object datasets ("[trigger] robot, ..." captions) are detected and use class-word prompts.
          Writes eval.json and eval.md to the run folder (the LoRA's folder), or --out.
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var target = EvalTarget.Resolve(args.Positional(0, "the run folder or LoRA file to evaluate"));
        var p = target.Process;
        string Need(string option, string? fromJob) => args.Get(option) ?? fromJob
            ?? throw new UserError($"eval: --{option} is required ({target.LoraPath} carries no " +
                "trainer config to take it from)");
        var model = Need("model", p?.Model.NameOrPath);
        var dataset = Need("dataset", p?.Datasets.FirstOrDefault()?.FolderPath);
        var trigger = Need("trigger", p?.TriggerWord);
        var defaults = new LoraEvalOptions();
        var options = new LoraEvalOptions
        {
            Width = args.Int("width", p?.Sample.Width ?? defaults.Width),
            Height = args.Int("height", p?.Sample.Height ?? defaults.Height),
            Steps = args.Int("steps", p?.Sample.SampleSteps ?? defaults.Steps),
            Guidance = (float)args.Double("guidance", p?.Sample.GuidanceScale ?? defaults.Guidance),
            Seeds = args.Int("seeds", defaults.Seeds),
            LoraStrength = args.Double("lora-strength", 1.0),
            ClassWord = args.Get("class-word"),
        };
        var device = args.Get("device", p?.Device ?? "auto");
        var outFolder = args.Get("out", target.OutputFolder);
        args.EnsureAllUsed();
        if (!Directory.Exists(dataset))
            throw new UserError($"eval: dataset folder '{dataset}' not found (relative paths are taken from the " +
                $"current folder; pass --dataset)");

        Evaluate(target.LoraPath, model, dataset, trigger, options, device, outFolder, o);
        return 0;
    }

    /// <summary>Loads <paramref name="model"/>, evaluates, prints the table and writes the files. Also called by
    /// <see cref="TrainCommand"/> at the end of a run.</summary>
    public static LoraEvalResult Evaluate(string lora, string model, string dataset, string trigger,
        LoraEvalOptions options, string device, string outFolder, TextWriter o)
    {
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.Load(model, TorchRuntime.Device(device), log: m => o.WriteLine($"  {m}"));
        models.Pipeline.LatentGrid(options.Height, options.Width); // a wrong size fails before any sampling
        var result = LoraEvaluator.Evaluate(models, lora, dataset, trigger, options, m => o.WriteLine($"  {m}"));
        o.WriteLine();
        o.Write(LoraEvalReport.Table(result));
        var (json, md) = LoraEvalReport.Write(result, outFolder);
        o.WriteLine($"eval of {lora} in {result.Seconds:F1} s: wrote {json} and {md}");
        return result;
    }
}
