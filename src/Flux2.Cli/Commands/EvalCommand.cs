using Flux2.Evaluation;
using Flux2.Native;
using Flux2.Pipeline;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 eval</c>: trigger strength and bleed of a LoRA (<see cref="LoraEvaluator"/>), printed as a
/// table and written as eval.json / eval.md next to the LoRA.</summary>
public static class EvalCommand
{
    public const string Help = """
        ./flux2 eval <run folder | lora.safetensors> | --runs <run1>,<run2>,... | --checkpoints <run folder>
                     [--model flux2-micro] [--dataset datasets-sample/midnight_tarot]
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
          model, dataset and trigger given, and samples at the model's own size (its sample_defaults.json; without
          one 1024x1024, 50 steps).
          Object datasets ("[trigger] robot, ..." captions) are detected and use class-word prompts.
          Writes eval.json, eval.md and eval.png to the run folder (the LoRA's folder), or --out. eval.png: a row per
          prompt (first seed), columns dataset reference | base | LoRA + trigger | LoRA, no trigger | |LoRA - base|
          without trigger as a heat map (bleed), upscaled by whole pixels (3x for 128x128).
          --runs a,b,c: the final LoRA of each run (e.g. the same job trained with different seeds), one table with
            each run's metrics and their mean ± std (sample std, n-1). An eval.json the run already has (the trainer
            writes one at the end) is reused when it measured the same LoRA file with the same model, dataset,
            trigger and options.
          --checkpoints <run folder>: every saved step LoRA and the final one, in step order (eval.json per step in
            <run>/eval-checkpoints/<file>/), and a suggested checkpoint: among checkpoints with bleed ratio <= 0.5,
            the earliest whose trigger strength is within 0.05 of the best (docs/evaluation.md).
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var runs = args.Get("runs");
        var sweep = args.Get("checkpoints");
        if (runs is not null && sweep is not null)
            throw new UserError("eval: give --runs or --checkpoints, not both");
        if ((runs ?? sweep) is not null && args.Positionals.Count > 0)
            throw new UserError($"eval: with --{(runs is null ? "checkpoints" : "runs")} give no other run folder or " +
                $"LoRA file (got '{args.Positionals[0]}')");
        var paths = runs is not null ? runs.Split(',', StringSplitOptions.RemoveEmptyEntries
                                                   | StringSplitOptions.TrimEntries)
            : [sweep ?? args.Positional(0, "the run folder or LoRA file to evaluate")];
        if (paths.Length == 0) throw new UserError("eval: --runs needs run folders or LoRA files, comma-separated");
        if (sweep is not null && !Directory.Exists(sweep))
            throw new UserError($"eval: --checkpoints {sweep}: not a run folder");
        var targets = paths.Select(EvalTarget.Resolve).ToList();
        var target = targets[0];
        var p = target.Process;
        string Need(string option, string? fromJob) => args.Get(option) ?? fromJob
            ?? throw new UserError($"eval: --{option} is required ({target.LoraPath} carries no " +
                "trainer config to take it from)");
        var model = Need("model", p?.Model.NameOrPath);
        var dataset = Need("dataset", p?.Datasets.FirstOrDefault()?.FolderPath);
        var trigger = Need("trigger", p?.TriggerWord);
        var defaults = new LoraEvalOptions();
        var native = p is null ? ModelSampleDefaults.For(model) : null;
        var options = new LoraEvalOptions
        {
            Width = args.Int("width", p?.Sample.Width ?? native!.Width),
            Height = args.Int("height", p?.Sample.Height ?? native!.Height),
            Steps = args.Int("steps", p?.Sample.SampleSteps ?? native!.SampleSteps),
            Guidance = (float)args.Double("guidance", p?.Sample.GuidanceScale ?? native!.GuidanceScale),
            Seeds = args.Int("seeds", defaults.Seeds),
            LoraStrength = args.Double("lora-strength", 1.0),
            ClassWord = args.Get("class-word"),
        };
        var device = args.Get("device", p?.Device ?? "auto");
        var outFolder = args.Get("out");
        args.EnsureAllUsed();
        if (!Directory.Exists(dataset))
            throw new UserError($"eval: dataset folder '{dataset}' not found (relative paths are taken from the " +
                $"current folder; pass --dataset)");
        if (runs is not null && outFolder is not null)
            throw new UserError("eval: --out is for one LoRA; with --runs each run's eval goes to its own folder");
        if (runs is not null && args.Get("model") is null
            && targets.Select(t => t.Process?.Model.NameOrPath).Distinct().Count() > 1)
            throw new UserError($"eval: the runs were trained on different models " +
                $"({string.Join(", ", targets.Select(t => t.Process?.Model.NameOrPath ?? "unknown").Distinct())}); " +
                "compare runs of one model, or pass --model");

        o.WriteLine($"eval sample {options.Width}x{options.Height}, {options.Steps} steps, guidance " +
            $"{options.Guidance} (options as given, the rest from " +
            $"{(p is null ? native!.Source : "the job config stored in the LoRA")})");
        if (runs is null && sweep is null)
        {
            Evaluate(target.LoraPath, model, dataset, trigger, options, device, outFolder ?? target.OutputFolder, o);
            return 0;
        }
        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.Load(model, TorchRuntime.Device(device), log: m => o.WriteLine($"  {m}"));
        models.Pipeline.LatentGrid(options.Height, options.Width); // a wrong size fails before any sampling
        if (sweep is not null)
        {
            var byStep = CheckpointSweep.Evaluate(models, sweep, dataset, trigger, options, m => o.WriteLine($"  {m}"));
            o.WriteLine();
            o.Write(CheckpointSweep.Table(byStep, CheckpointSweep.Suggest(byStep)));
            return 0;
        }
        var shared = targets.GroupBy(t => t.OutputFolder).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        var results = new List<EvaluatedLora>();
        for (int i = 0; i < targets.Count; i++)
        {
            var t = targets[i];
            // LoRA files that share a folder each get a subfolder, so their eval.json files do not overwrite each other
            var folder = shared.Contains(t.OutputFolder)
                ? Path.Combine(t.OutputFolder, "eval-" + Path.GetFileNameWithoutExtension(t.LoraPath)) : t.OutputFolder;
            o.WriteLine($"run {i + 1}/{targets.Count}: {paths[i]}");
            results.Add(LoraEvalRuns.EvaluateOrReuse(models, t.LoraPath,
                t.Process?.Datasets.FirstOrDefault()?.FolderPath is { } d && args.Get("dataset") is null
                    && Directory.Exists(d) ? d : dataset,
                args.Get("trigger") ?? t.Process?.TriggerWord ?? trigger, options, folder, paths[i],
                log: m => o.WriteLine($"  {m}")));
        }
        o.WriteLine();
        o.Write(LoraEvalRuns.SpreadTable(results));
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
        var result = LoraEvalRuns.EvaluateAndWrite(models, lora, dataset, trigger, options, outFolder,
            m => o.WriteLine($"  {m}"));
        o.WriteLine();
        o.Write(LoraEvalReport.Table(result));
        o.WriteLine($"eval of {lora} in {result.Seconds:F1} s: wrote {LoraEvalReport.JsonFileName}, " +
            $"{LoraEvalReport.MarkdownFileName} and {EvalGrid.FileName} (comparison grid) to {outFolder}");
        return result;
    }
}
