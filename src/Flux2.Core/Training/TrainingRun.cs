using Flux2.Diagnostics;
using Flux2.Distributed;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn.Offload;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Logging;
using Flux2.Training.Network;
using Flux2.Training.State;
using static TorchSharp.torch;

namespace Flux2.Training;

/// <summary>What a run left behind. <paramref name="Cancelled"/>: stopped early, resumable from
/// <paramref name="FinalLora"/>'s step checkpoint; <paramref name="ResumedFrom"/>: the step this start continued
/// from.</summary>
public sealed record TrainingRunResult(string RunFolder, string FinalLora, IReadOnlyList<string> Checkpoints,
                                       IReadOnlyList<string> SampleGrids, double Seconds)
{
    public int Step { get; init; }
    public bool Cancelled { get; init; }
    public int? ResumedFrom { get; init; }
}

/// <summary>
/// A whole LoRA job from a loaded YAML: load the model named by model.name_or_path on process.device in train.dtype,
/// write the resolved config next to the outputs, prepare <see cref="Flux2LoraTask"/>, run <see cref="Trainer"/>.
/// An existing run folder is resumed from its newest training state (<paramref name="restart"/>: moved aside instead);
/// every start is logged to the folder's run.sqlite (<see cref="RunLogWriter"/>).
/// The CLI and notebooks both start here; they watch through <see cref="TrainerCallbacks"/>.
/// With a <see cref="ProcessGroup"/> this process is one rank of a data-parallel job (docs/multi-gpu.md): it joins the
/// others (<see cref="DataParallel"/>), trains its <see cref="Data.BatchShard"/> on cuda:LOCAL_RANK, and only rank 0
/// writes the run folder (config, run log, samples, checkpoints); every rank resumes from the same checkpoint.
/// </summary>
public static class TrainingRun
{
    public static TrainingRunResult Run(LoadedJob loaded, TrainerCallbacks? callbacks = null,
                                        CancellationToken cancel = default, bool restart = false,
                                        ProcessGroup? group = null)
    {
        TorchRuntime.EnsureLoaded();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var job = loaded.Job;
        var p = job.Process;
        var log = callbacks?.OnMessage;
        var runFolder = RunFolder.For(p.TrainingFolder, job.Config.Name);
        bool main = group is null || group.IsMain;
        // Everything that can be checked without the model is checked before any file is moved or training starts.
        var device = CheckDevice(group is null ? p.Device : RankDevice(p.Device, group));
        CheckDatasetFolders(p);
        if (p.Network.PretrainedLoraPath is { Length: > 0 } pretrained && !File.Exists(pretrained))
            throw new UserError($"config.process[0].network.pretrained_lora_path: file not found: {pretrained}");
        CheckLayerOffloading(p, device);
        if (restart && main && RunFolder.MoveAside(runFolder, job.Config.Name) is string previous)
            log?.Invoke($"--restart: earlier files of this run moved to {previous}");
        if (main)
        {
            SetAsideDamagedLog(runFolder, log);
            foreach (var removed in RunFolder.RemoveStaleTempFiles(runFolder, job.Config.Name))
                log?.Invoke($"removed {removed}: a temp file of a save that was interrupted (the process was killed)");
            RunFolder.CheckOutputs(runFolder, job.Config.Name);
        }
        var resume = restart && !main ? null : Resumable(runFolder, job.Config.Name, main, log);

        using var parallel = group is null ? null : DataParallel.Join(group, device, log);
        parallel?.CheckSameStart(resume?.Step ?? 0);
        var dtype = p.Train.Dtype.ToScalarType();
        // With layer offloading the offloaded blocks go from the file to pinned memory through a GPU slot one at a
        // time, so a transformer larger than the GPU loads (memory tier A).
        using var models = Flux2Models.Load(p.Model.NameOrPath, device, dtype, log,
            quantization: p.Model.Quantization(), lowVram: p.Model.LowVram,
            layerOffloading: p.Model.LayerOffloading ? p.Model.LayerOffloadingTransformerPercent : null);
        log?.Invoke($"model {models.Origin} on {device}: transformer " +
            $"{models.Transformer.ParameterCount():N0} parameters");
        if (p.Model.ArchIsKlein != models.IsKlein && (p.Model.ArchIsKlein || p.Model.Arch == "flux2_dev"))
            log?.Invoke($"warning: model.arch is '{p.Model.Arch}' but {models.Origin} is " +
                $"{(models.IsKlein ? "FLUX.2 [klein] (Qwen3 text encoder)" : "not FLUX.2 [klein]")}; it is trained " +
                "as the model it is");
        if (models.Offloader is { } offloader) log?.Invoke(offloader.Report.ToString());
        // Rank 0 builds the on-disk latent and text caches first; the others then read them instead of writing the same
        // files at the same time. (Caching a large dataset can take long: the wait is bounded by the heartbeat, not a
        // clock.)
        if (parallel is { Rank: > 0 }) parallel.Barrier("caches", TimeSpan.FromHours(12));
        using var task = new Flux2LoraTask(models, job, log, group is null ? null
            : new Data.BatchShard(group.Rank, group.WorldSize));
        if (parallel is { Rank: 0 }) parallel.Barrier("caches", TimeSpan.FromHours(12));
        Directory.CreateDirectory(task.RunFolder);
        if (main) using (var w = new StreamWriter(Path.Combine(task.RunFolder, "config.resolved.txt")))
            JobConfigPrinter.Print(loaded, w);

        using var gpu = device.type == TorchSharp.DeviceType.CUDA ? GpuMemory.TryStart((uint)Math.Max(0, device.index))
            : null;
        using var runLog = !main ? null : new RunLogWriter(task.RunFolder, models.Origin, device.ToString(),
            p.Train.Steps, LoraCheckpoint.ConfigJson(job),
            () => gpu is not null ? gpu.UsedGiB * 1024 : Environment.WorkingSet / (1024.0 * 1024.0));

        var checkpoints = new List<string>();
        var samples = new List<string>();
        string final = "";
        var watched = TrainerCallbacks.Combine(new TrainerCallbacks
        {
            OnSample = r => samples.Add(r.GridPath),
            OnSave = r => { if (r.Final) final = r.Path; else checkpoints.Add(r.Path); },
        }, runLog is null ? callbacks : TrainerCallbacks.Combine(runLog.Callbacks, callbacks));
        if (p.PerformanceLogEvery > 0 && main) watched = TrainerCallbacks.Combine(PerformanceLog(p, log), watched);
        var options = TrainerOptions.From(p) with { ResumeFrom = resume?.Path, DataParallel = parallel };
        TrainerResult outcome;
        try { outcome = new Trainer(task, options, watched).Run(cancel); parallel?.Complete(); }
        catch (ResumeMismatchException e)
        {
            throw new ResumeMismatchException(RunFolder.MismatchAdvice(task.RunFolder,
            e.Message));
        }
        if (parallel is not null)
            log?.Invoke($"rank {parallel.Rank} of {parallel.WorldSize} done at step {outcome.Step}");
        var kept = checkpoints.Where(File.Exists).ToList();
        return new TrainingRunResult(task.RunFolder, outcome.Cancelled ? outcome.LastSave ?? "" : final, kept, samples,
                                     clock.Elapsed.TotalSeconds)
        {
            Step = outcome.Step,
            Cancelled = outcome.Cancelled,
            ResumedFrom = resume?.Step,
        };
    }

    /// <summary>The newest usable training state. Newer ones that cannot be used are reported (file and reason) and,
    /// on rank 0, moved to previous-&lt;time&gt;/ with their LoRA files, so the resumed run does not overwrite them.
    /// When the folder has checkpoints but no usable state, throws rather than start over on top of them.</summary>
    static (string Path, int Step)? Resumable(string runFolder, string name, bool main, Action<string>? log)
    {
        var skipped = new List<RunFolder.Skipped>();
        var latest = RunFolder.Latest(runFolder, name, skipped);
        foreach (var s in skipped) log?.Invoke($"cannot resume from {s}");
        var loras = RunFolder.LoraFiles(runFolder, name);
        if (latest is null && (skipped.Count > 0 || loras.Count > 0))
            throw new UserError(
                $"cannot resume the run in {runFolder}: " + (skipped.Count > 0
                    ? $"no training state can be read ({string.Join("; ", skipped)})"
                    : $"it has LoRA files ({string.Join(", ", loras.Select(Path.GetFileName))}) but no training " +
                      "state") +
                ". Training from step 0 would overwrite them. Fix or move the damaged file so an older checkpoint is " +
                "used, or run again with --restart (moves the old files to previous-<time>/), or give the job a new " +
                "config.name.");
        if (main) SetAsideOrphanStates(runFolder, name, latest?.Path, log);
        if (main && skipped.Count > 0)
        {
            var files = skipped.SelectMany(s => new[] { s.Path, TrainingStateFile.LoraPathFor(s.Path) }).ToList();
            if (RunFolder.MoveAside(runFolder, files) is string moved)
                log?.Invoke($"the unusable checkpoints were moved to {moved}; resuming from step {latest!.Value.Step}");
        }
        return latest;
    }

    /// <summary>States without their LoRA file, other than the one resumed from, are what a process killed between
    /// the two renames of a save (or during rotation) leaves: no later save or rotation touches them again. They
    /// are moved to previous-&lt;time&gt;/ and reported.</summary>
    static void SetAsideOrphanStates(string runFolder, string name, string? resumeFrom, Action<string>? log)
    {
        var orphans = TrainingStateFile.Candidates(runFolder, name).Select(c => c.Path)
            .Where(s => s != resumeFrom && !File.Exists(TrainingStateFile.LoraPathFor(s))).ToList();
        if (orphans.Count == 0) return;
        var moved = RunFolder.MoveAside(runFolder, orphans);
        log?.Invoke($"training states without their LoRA file ({string.Join(", ", orphans.Select(Path.GetFileName))}" +
                    $") were left by an interrupted save: moved to {moved}");
    }

    /// <summary>A run.sqlite that is a folder or not a readable SQLite database would stop the run (or every later
    /// start) although the checkpoints are intact: it is moved, with its -wal/-shm/-journal files, to
    /// previous-&lt;time&gt;/ and the run starts a new log.</summary>
    static void SetAsideDamagedLog(string runFolder, Action<string>? log)
    {
        var path = Path.Combine(runFolder, RunLogSchema.FileName);
        string? problem = null;
        if (Directory.Exists(path)) problem = "it is a folder";
        else if (File.Exists(path))
        {
            try
            {
                using var db = RunLogSchema.Open(path, create: false);
                using var cmd = db.CreateCommand();
                cmd.CommandText = "PRAGMA quick_check";
                if (cmd.ExecuteScalar() is not "ok") problem = "the database fails its integrity check";
            }
            catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException
                                          or UnauthorizedAccessException)
            {
                problem = e.Message;
            }
        }
        if (problem is null) return;
        var files = new[] { "", "-wal", "-shm", "-journal" }.Select(s => path + s).ToList();
        var moved = RunFolder.MoveAside(runFolder, files);
        log?.Invoke($"the run log {path} cannot be used ({problem}): moved to {moved}; a new log starts");
    }

    /// <summary>performance_log_every: every that many steps, the mean seconds per step since the previous
    /// line.</summary>
    static TrainerCallbacks PerformanceLog(ProcessConfig p, Action<string>? log)
    {
        var seconds = new List<double>();
        return new TrainerCallbacks
        {
            OnStep = r =>
            {
                seconds.Add(r.Seconds);
                if (r.Step % p.PerformanceLogEvery != 0) return;
                log?.Invoke($"performance: steps {r.Step - seconds.Count + 1}-{r.Step}: mean " +
                    $"{seconds.Average():F3} s/step, slowest {seconds.Max():F3} s");
                seconds.Clear();
            },
        };
    }

    /// <summary>Dataset and control folders exist (the scan itself comes after the model has loaded, which can take
    /// minutes).</summary>
    static void CheckDatasetFolders(ProcessConfig p)
    {
        for (int i = 0; i < p.Datasets.Count; i++)
            foreach (var (key, folder) in new[] { ("folder_path", p.Datasets[i].FolderPath) }
                         .Concat(p.Datasets[i].ControlPaths.Select(c => ("control_path", c))))
                if (!Directory.Exists(folder))
                    throw new UserError($"config.process[0].datasets[{i}].{key}: folder not found: {folder}");
    }

    static void CheckLayerOffloading(ProcessConfig p, Device device)
    {
        if (!p.Model.LayerOffloading) return;
        if (!p.Train.GradientCheckpointing)
            throw new UserError("model.layer_offloading needs train.gradient_checkpointing: true (offloaded blocks " +
                                "share GPU slots, so their activations cannot be kept for the backward pass)");
        if (device.type != TorchSharp.DeviceType.CUDA)
            throw new UserError($"model.layer_offloading needs CUDA, the device is {device}: set process.device (or " +
                                "--device) to cuda, or turn model.layer_offloading off");
    }

    /// <summary>The device of <paramref name="spec"/>, checked to exist (<see cref="UserError"/> otherwise).</summary>
    static Device CheckDevice(string spec)
    {
        var device = TorchRuntime.Device(spec);
        if (device.type == TorchSharp.DeviceType.CUDA && device.index >= cuda.device_count())
            throw new UserError($"device '{spec}': this machine has {cuda.device_count()} CUDA device(s) " +
                                $"(cuda:0..cuda:{cuda.device_count() - 1})");
        if (device.type is not (TorchSharp.DeviceType.CPU or TorchSharp.DeviceType.CUDA))
            throw new UserError($"device '{spec}': training runs on cpu or cuda (process.device or --device)");
        return device;
    }

    /// <summary>A rank trains on cuda:LOCAL_RANK ("auto", "cuda", "cuda:N" all mean that: one GPU per rank), or on the
    /// CPU when the job says cpu (the store-backed CPU path, for tests and the micro model).</summary>
    static string RankDevice(string configured, ProcessGroup group)
        => configured == "cpu" || (configured == "auto" && !cuda.is_available()) ? "cpu" : $"cuda:{group.LocalRank}";
}
