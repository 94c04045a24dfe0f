using System.Diagnostics;
using System.Globalization;
using Flux2.Evaluation;
using Flux2.IO;
using Flux2.Pipeline;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.Logging;
using Flux2.Training.Network;

namespace Flux2.Interactive.Training;

/// <summary>One setting a sweep tries: its name (in run names, tables and chart categories), the number a chart plots
/// it at (e.g. the learning rate; null: a category) and the change it makes to the job.</summary>
public sealed record SweepVariant(string Name, double? X, Action<ProcessConfig> Configure);

/// <summary>One run of a sweep. <paramref name="Seconds"/>: its training steps' times summed from run.sqlite (no model
/// load or caching); <paramref name="FinalLoss"/>: the mean loss of its last <see cref="Sweep.LossWindow"/> steps;
/// <paramref name="Trained"/>: false when the finished run was found on disk and reused.</summary>
public sealed record SweepRun(SweepVariant Variant, long Seed, string RunFolder, string Lora, int Steps,
    double Seconds, double FinalLoss, bool Trained, EvaluatedLora Eval)
{
    public double this[EvalMetric metric] => Eval[metric];
}

/// <summary>Every run of a sweep, evaluated against <paramref name="Dataset"/> with <paramref name="Trigger"/>; per
/// variant, each metric's mean ± sample std over the training seeds (<see cref="LoraEvalRuns.Spread"/>).</summary>
public sealed partial record SweepResult(IReadOnlyList<SweepVariant> Variants, IReadOnlyList<long> Seeds,
    IReadOnlyList<SweepRun> Runs, string Dataset, string Trigger)
{
    public IReadOnlyList<SweepRun> RunsOf(SweepVariant variant) => Runs.Where(r => r.Variant == variant).ToList();

    public MeanStd Spread(SweepVariant variant, EvalMetric metric) =>
        LoraEvalRuns.Spread(RunsOf(variant).Select(r => r.Eval).ToList(), [metric])[metric.JsonKey];

    /// <summary>For <c>Show.Table(t.Headers, t.Rows)</c>: a row per variant with the mean ± std of each metric
    /// (default: trigger strength, content kept, bleed, bleed ratio), the final loss and the training time.</summary>
    public (IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<object?>> Rows) Table(
        IReadOnlyList<EvalMetric>? metrics = null)
    {
        metrics ??= [EvalMetrics.TriggerStrength, EvalMetrics.ContentKept, EvalMetrics.Bleed, EvalMetrics.BleedRatio];
        var headers = new[] { "variant", "seeds" }.Concat(metrics.Select(m => m.Label))
            .Concat(["final loss", "seconds"]).ToList();
        var rows = Variants.Select(v => (IReadOnlyList<object?>)new object?[] { v.Name, RunsOf(v).Count }
            .Concat(metrics.Select(m => Spread(v, m).ToString()))
            .Append(MeanStd.Of(RunsOf(v).Select(r => r.FinalLoss)).ToString())
            .Append(MeanStd.Of(RunsOf(v).Select(r => r.Seconds)).Mean.ToString("F1", CultureInfo.InvariantCulture))
            .ToList()).ToList();
        return (headers, rows);
    }
}

/// <summary>
/// A hyperparameter experiment from a notebook: every variant × training seed trained from one job file (run
/// <c>&lt;config.name&gt;_&lt;variant&gt;_s&lt;seed&gt;</c>, quietly: no live chart, no sample grids), then every
/// final LoRA evaluated (<see cref="LoraEvaluator"/>) with one loaded model against the job file's first dataset
/// and trigger, the same target for every variant. A run whose final LoRA is on disk with the same config is reused,
/// as is an eval.json that <see cref="LoraEvalRuns.Matches"/>, so re-running the cell retrains nothing.
/// </summary>
public static class Sweep
{
    public const int LossWindow = 10;

    /// <summary>Trains and evaluates <paramref name="variants"/> × <paramref name="seeds"/> of the job at
    /// <paramref name="jobPath"/> (repository-relative works), <paramref name="steps"/> steps each, under
    /// <paramref name="outputFolder"/> (default as <see cref="LiveTraining.Prepare"/>). <paramref name="models"/>: the
    /// model to evaluate with (null: one is loaded, only when some evaluation is not on disk yet, and disposed after).
    /// <paramref name="log"/>: where the per-run lines go (default the console, which a notebook cell shows).</summary>
    public static SweepResult Run(string jobPath, IReadOnlyList<SweepVariant> variants, IReadOnlyList<long> seeds,
        int steps, LoraEvalOptions evalOptions, string? outputFolder = null, Flux2Models? models = null,
        string? model = null, string? device = null, Action<string>? log = null)
    {
        log ??= Console.WriteLine;
        if (variants.Count == 0 || seeds.Count == 0)
            throw new UserError($"a sweep needs at least one variant and one seed (got {variants.Count} variants, " +
                $"{seeds.Count} seeds)");
        var path = File.Exists(jobPath) ? jobPath : Kit.PathOf(jobPath);
        LoadedJob Load() => JobConfigReader.Read(path);
        var target = Load();
        var tp = LiveTraining.Prepare(target, steps, outputFolder, device, model);
        var trigger = tp.TriggerWord is { Length: > 0 } t ? t : throw new UserError(
            $"{path}: config.process[0].trigger_word is empty; a sweep evaluates each LoRA with its trigger word");
        var dataset = tp.Datasets.Count > 0 ? tp.Datasets[0].FolderPath
            : throw new UserError($"{path}: config.process[0].datasets is empty");

        var planned = variants.SelectMany(v => seeds.Select((seed, i) =>
        {
            var job = Load();
            job.Job.Config.Name = RunName(job.Job.Config.Name, v.Name, seed);
            var p = LiveTraining.Prepare(job, steps, outputFolder, device, model);
            job = JobModelDefaults.Apply(job); // before the variant's change, as LiveTraining.Run orders them
            p.Train.Seed = seed;
            v.Configure(p);
            p.Train.DisableSampling = true; // the sweep evaluates the final LoRAs itself
            return (v, seed, label: $"variant {v.Name}, seed {i + 1}/{seeds.Count}", job);
        })).ToList();
        var twice = planned.GroupBy(r => r.job.Job.Config.Name).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new UserError($"two sweep runs would share the run name {twice.Key}: give the variants names that " +
                "differ in letters or digits");

        var trained = planned.Select(r =>
        {
            var p = r.job.Job.Process;
            var folder = Flux2.Training.RunFolder.For(p.TrainingFolder, r.job.Job.Config.Name);
            var lora = Path.Combine(folder, LoraCheckpoint.FinalFileName(r.job.Job.Config.Name));
            bool reuse = IsDone(lora, r.job);
            double total = 0;
            if (!reuse)
            {
                // A final LoRA of another config (the variant was edited) is moved to previous-<time>/, not resumed.
                var result = TrainingRun.Run(r.job, new TrainerCallbacks(), restart: File.Exists(lora));
                (lora, total) = (result.FinalLora, result.Seconds);
            }
            var (seconds, loss) = FromLog(folder);
            log(reuse ? $"{r.label}: reused {folder} ({p.Train.Steps} steps, {seconds:F1} s of training)"
                : $"{r.label}: trained {p.Train.Steps} steps in {seconds:F1} s ({total:F1} s with model load and " +
                  $"caching), final loss {loss:F4}");
            return (r.v, r.seed, r.label, folder, lora, steps: p.Train.Steps, seconds, loss, trained: !reuse);
        }).ToList();

        var modelPath = tp.Model.NameOrPath;
        Flux2Models? loaded = null;
        using var baseImages = new BaseImageCache();
        try
        {
            var runs = trained.Select(r =>
            {
                var clock = Stopwatch.StartNew();
                var json = Path.Combine(r.folder, LoraEvalReport.JsonFileName);
                var name = Path.GetFileName(r.folder);
                var eval = models is null && loaded is null
                    && LoraEvalRuns.Matches(json, r.lora, modelPath, dataset, trigger, evalOptions)
                    ? new EvaluatedLora(name, r.lora, r.steps, EvalMetrics.FromJson(File.ReadAllText(json)), json,
                        Reused: true)
                    : LoraEvalRuns.EvaluateOrReuse(models ?? (loaded ??= Kit.LoadModels(modelPath, tp.Device)),
                        r.lora, dataset, trigger, evalOptions, r.folder, name, r.steps, baseImages: baseImages);
                log($"{r.label}: strength {eval[EvalMetrics.TriggerStrength]:F2}, bleed " +
                    $"{eval[EvalMetrics.Bleed]:F3}, content kept {eval[EvalMetrics.ContentKept]:F2}" +
                    (eval.Reused ? " (eval.json reused)" : $" (evaluated in {clock.Elapsed.TotalSeconds:F1} s)"));
                return new SweepRun(r.v, r.seed, r.folder, r.lora, r.steps, r.seconds, r.loss, r.trained, eval);
            }).ToList();
            return new SweepResult(variants, seeds, runs, dataset, trigger);
        }
        finally { loaded?.Dispose(); }
    }

    /// <summary><c>&lt;job&gt;_&lt;variant&gt;_s&lt;seed&gt;</c>, the variant's characters other than letters, digits,
    /// '.', '_' and '-' turned into '-' (so "lr=1e-3" gives "lr-1e-3").</summary>
    internal static string RunName(string job, string variant, long seed) =>
        $"{job}_{new string(variant.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-')
            .ToArray())}_s{seed.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>True when <paramref name="finalLora"/> exists and was saved by a run of exactly this job: its "config"
    /// metadata equals the job's config (<see cref="LoraCheckpoint.ConfigJson"/>).</summary>
    internal static bool IsDone(string finalLora, LoadedJob job)
    {
        if (!File.Exists(finalLora)) return false;
        using var file = SafetensorsFile.Open(finalLora);
        return file.Metadata.TryGetValue("config", out var config) && config == LoraCheckpoint.ConfigJson(job.Job);
    }

    /// <summary>The training time (the steps' seconds summed) and final loss (mean of the last
    /// <see cref="LossWindow"/> finite losses) from the run's run.sqlite.</summary>
    static (double Seconds, double Loss) FromLog(string runFolder)
    {
        using var runLog = RunLog.Open(runFolder);
        var s = runLog.Steps();
        var losses = s.Loss.Where(double.IsFinite).TakeLast(LossWindow).ToList();
        return (s.Seconds.Where(double.IsFinite).Sum(), losses.Count > 0 ? losses.Average() : double.NaN);
    }
}
