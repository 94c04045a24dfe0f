using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training.Config;
using static TorchSharp.torch;

namespace Flux2.Training;

/// <summary>What a finished run left behind.</summary>
public sealed record TrainingResult(string RunFolder, string FinalLora, IReadOnlyList<string> Checkpoints, IReadOnlyList<string> SampleGrids, double Seconds);

/// <summary>
/// A whole LoRA job from a loaded YAML: load the model named by model.name_or_path on process.device in train.dtype,
/// write the resolved config next to the outputs, prepare <see cref="Flux2LoraTask"/>, run <see cref="Trainer"/>.
/// The CLI and notebooks both start here; they watch through <see cref="TrainerCallbacks"/>.
/// </summary>
public static class TrainingRun
{
    public static TrainingResult Run(LoadedJob loaded, TrainerCallbacks? callbacks = null, CancellationToken cancel = default)
    {
        TorchRuntime.EnsureLoaded();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var job = loaded.Job;
        var p = job.Process;
        var log = callbacks?.OnMessage;
        var device = TorchRuntime.Device(p.Device);
        var dtype = p.Train.Dtype switch { Precision.Bf16 => ScalarType.BFloat16, Precision.Fp16 => ScalarType.Float16, _ => ScalarType.Float32 };
        using var models = Flux2Models.Load(p.Model.NameOrPath, device, dtype, log);
        log?.Invoke($"model {models.Origin} on {device}: transformer {models.Transformer.ParameterCount():N0} parameters");
        using var task = new Flux2LoraTask(models, job, log);
        Directory.CreateDirectory(task.RunFolder);
        using (var w = new StreamWriter(Path.Combine(task.RunFolder, "config.resolved.txt"))) JobConfigPrinter.Print(loaded, w);

        var checkpoints = new List<string>();
        var samples = new List<string>();
        string final = "";
        var watched = new TrainerCallbacks
        {
            OnStep = callbacks?.OnStep,
            OnEval = callbacks?.OnEval,
            OnMessage = callbacks?.OnMessage,
            OnSample = r => { samples.Add(r.GridPath); callbacks?.OnSample?.Invoke(r); },
            OnSave = r => { if (r.Final) final = r.Path; else checkpoints.Add(r.Path); callbacks?.OnSave?.Invoke(r); },
        };
        new Trainer(task, TrainerOptions.From(p), watched).Run(cancel);
        var kept = checkpoints.Where(File.Exists).ToList();
        return new TrainingResult(task.RunFolder, final, kept, samples, clock.Elapsed.TotalSeconds);
    }
}
