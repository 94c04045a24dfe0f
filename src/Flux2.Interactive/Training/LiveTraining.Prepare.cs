using Flux2.Training.Config;

namespace Flux2.Interactive.Training;

/// <summary>The part of <see cref="LiveTraining"/> that needs no notebook kernel: where runs go and how a job is made
/// runnable from a notebook (<see cref="Sweep"/> uses it too).</summary>
public static partial class LiveTraining
{
    /// <summary>When set, runs go under this folder instead of the job's training_folder (CI runs the notebooks with a
    /// temporary folder here).</summary>
    public const string OutputEnv = "FLUX2_NOTEBOOK_OUTPUT";

    /// <summary>Makes a job runnable from a notebook: model "flux2-micro" → the weights' folder, repository-relative
    /// dataset and output folders → absolute, plus the overrides.</summary>
    public static ProcessConfig Prepare(LoadedJob job, int? steps = null, string? outputFolder = null,
        string? device = null, string? model = null)
    {
        var p = job.Job.Process;
        outputFolder ??= Environment.GetEnvironmentVariable(OutputEnv);
        p.Model.NameOrPath = Kit.ModelPath(model ?? p.Model.NameOrPath);
        foreach (var d in p.Datasets)
            if (!Path.IsPathRooted(d.FolderPath) && !Directory.Exists(d.FolderPath)) d.FolderPath =
                Kit.PathOf(d.FolderPath);
        p.TrainingFolder = outputFolder ?? (Path.IsPathRooted(p.TrainingFolder) ? p.TrainingFolder
            : Kit.PathOf(p.TrainingFolder));
        if (steps is { } n) p.Train.Steps = n;
        if (device is not null) p.Device = device;
        return p;
    }
}
