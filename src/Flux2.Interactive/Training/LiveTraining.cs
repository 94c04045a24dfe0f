using System.Diagnostics;
using System.Net;
using Flux2.Interactive.Charts;
using Flux2.Interactive.Display;
using Flux2.Training;
using Flux2.Training.Config;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Formatting;

namespace Flux2.Interactive.Training;

/// <summary>What a notebook training run leaves: the run folder, the trainer's result and every step's
/// numbers.</summary>
public sealed record LiveTrainingResult(string RunFolder, TrainingRunResult Result, IReadOnlyList<StepReport> Steps,
                                        LoadedJob Job)
{
    public double[] StepNumbers => Steps.Select(s => (double)s.Step).ToArray();
    public double[] Losses => Steps.Select(s => s.Loss).ToArray();
    public double[] LearningRates => Steps.Select(s => s.LearningRate).ToArray();
    public double[] Timesteps => Steps.Select(s => s.Timestep).ToArray();
}

/// <summary>
/// Runs an ai-toolkit job from a notebook cell with three outputs updated in place while it trains: a status line
/// (step, loss, lr, speed, ETA), the loss chart (raw + smoothed) and the latest sample grid.
/// </summary>
public static partial class LiveTraining
{
    /// <summary>Loads <paramref name="jobPath"/> (repository-relative paths work from any working folder) and
    /// trains.</summary>
    public static LiveTrainingResult Run(string jobPath, int? steps = null, string? outputFolder = null,
                                         string? device = null, string? model = null,
                                         Action<ProcessConfig>? configure = null, double chartEverySeconds = 3,
                                         int? stopAtStep = null)
    {
        var path = File.Exists(jobPath) ? jobPath : Kit.PathOf(jobPath);
        return Run(JobConfigReader.Read(path), steps, outputFolder, device, model, configure, chartEverySeconds,
            stopAtStep);
    }

    /// <summary>Trains an already loaded (and possibly edited) job. A run folder that holds a checkpoint of this job is
    /// resumed exactly (the trainer's own resume). <paramref name="stopAtStep"/> stops the run after that step the way
    /// Ctrl-C does on the CLI — finish the step, save a checkpoint with its training state — so a notebook can show
    /// a stop and a resume. In a kernel the front end's Interrupt (<see cref="InterruptStop"/>) and the cell's Stop
    /// button (<see cref="StopButton"/>) stop it the same way.</summary>
    public static LiveTrainingResult Run(LoadedJob job, int? steps = null, string? outputFolder = null,
                                         string? device = null, string? model = null,
                                         Action<ProcessConfig>? configure = null, double chartEverySeconds = 3,
                                         int? stopAtStep = null)
    {
        using var stop = new CancellationTokenSource();
        var p = Prepare(job, steps, outputFolder, device, model);
        job = JobModelDefaults.Apply(job); // the model's native sample size where the job gives none
        configure?.Invoke(p);

        using var stopButton = KernelInvocationContext.Current is null ? null : new StopButton(stop);
        using var interrupt = KernelInvocationContext.Current is null ? null : InterruptStop.TryStart(stop);
        var control = stopButton is null ? null : Show.Updatable(new HtmlFragment(stopButton.Html()));
        var status = Show.Updatable(new HtmlFragment(Status("starting: loading the model and caching latents…")));
        var chart = Show.Updatable(new HtmlFragment(Placeholder("the loss chart appears after the first steps")));
        DisplayedValue? samples = null;

        var reports = new List<StepReport>();
        var clock = Stopwatch.StartNew();
        var sinceChart = Stopwatch.StartNew();
        void DrawChart()
        {
            if (reports.Count == 0) return;
            var spec = Chart.Loss(reports.Select(r => (double)r.Step).ToArray(), reports.Select(r => r.Loss).ToArray(),
                title: $"Training loss — {job.Job.Config.Name}");
            chart?.Update(new HtmlFragment(ChartHtml.Render(spec)));
            sinceChart.Restart();
        }

        var result = TrainingRun.Run(job, new TrainerCallbacks
        {
            OnStep = r =>
            {
                reports.Add(r);
                if (r.Step == 1) clock.Restart();
                double perStep = r.Step > 1 ? clock.Elapsed.TotalSeconds / (r.Step - 1) : r.Seconds;
                var eta = TimeSpan.FromSeconds(perStep * (r.TotalSteps - r.Step));
                if (sinceChart.Elapsed.TotalSeconds >= chartEverySeconds || r.Step == r.TotalSteps)
                    status?.Update(new HtmlFragment(Status($"step {r.Step}/{r.TotalSteps} · loss {r.Loss:F4} · " +
                        $"lr {r.LearningRate:G3} · t {r.Timestep:F2} · grad norm {r.GradNorm:F3} · " +
                        $"{perStep:F2} s/step · ETA {eta:mm\\:ss}")));
                if (sinceChart.Elapsed.TotalSeconds >= chartEverySeconds || r.Step == r.TotalSteps) DrawChart();
                if (r.Step == stopAtStep) stop.Cancel();
            },
            OnResume = r => status?.Update(new HtmlFragment(Status($"resuming from step {r.Step} ({r.Path})"))),
            OnSample = r =>
            {
                var png = PngImage.FromFile(r.GridPath);
                if (samples is null) samples = Show.Updatable(png);
                else samples.Update(png);
            },
            OnMessage = m => { if (KernelInvocationContext.Current is null) Console.WriteLine(m); },
        }, stop.Token);
        control?.Update(new HtmlFragment(""));
        DrawChart();
        var last = reports.Count > 0 ? reports[^1] : null;
        status?.Update(new HtmlFragment(Status(result.Cancelled
            ? $"stopped after step {result.Step} · checkpoint {result.FinalLora} (with its " +
                "training state) · run again to resume"
            : $"done in {result.Seconds:F1} s · {reports.Count} steps · final loss " +
                $"{last?.Loss:F4} · LoRA {result.FinalLora}")));
        return new LiveTrainingResult(result.RunFolder, result, reports, job);
    }

    static string Status(string text) =>
        $"<div style=\"font-family:monospace;font-size:13px;padding:2px\">{WebUtility.HtmlEncode(text)}</div>";
    static string Placeholder(string text) =>
        $"<div style=\"color:#888;font-family:sans-serif;font-size:12px\">{WebUtility.HtmlEncode(text)}</div>";
}
