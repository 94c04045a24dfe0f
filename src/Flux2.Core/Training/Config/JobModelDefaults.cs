using System.Globalization;
using Flux2.Pipeline;

namespace Flux2.Training.Config;

/// <summary>
/// The job settings that depend on the model's native size: <c>sample.width</c>, <c>height</c>,
/// <c>sample_steps</c>, <c>guidance_scale</c> and each dataset's <c>resolution</c>. A key the job file sets keeps
/// its value; a key it leaves out takes the model's stated setting (<see cref="ModelSampleDefaults.Stated"/>: the
/// micro model states 128², 20 steps, guidance 4), and for a model that states none (FLUX.2-dev, tiny-random) the
/// ai-toolkit default in <see cref="SampleConfig"/> and <see cref="DatasetConfig"/> stays. Applying twice gives the
/// same job.
/// </summary>
public static class JobModelDefaults
{
    const string Process = "config.process[0]";

    /// <summary>Applies the settings stated by the job's model (looked up from model.name_or_path).</summary>
    public static LoadedJob Apply(LoadedJob loaded) =>
        Apply(loaded, ModelSampleDefaults.StatedFor(loaded.Job.Process.Model.NameOrPath));

    /// <summary>Fills the keys the file left out from <paramref name="model"/> (null: keep the ai-toolkit defaults)
    /// and returns the job with <see cref="LoadedJob.Notes"/> saying where each value came from.</summary>
    public static LoadedJob Apply(LoadedJob loaded, ModelSampleDefaults? model)
    {
        var p = loaded.Job.Process;
        var s = p.Sample;
        string Source(string key) =>
            loaded.GivenKeys.Contains($"{Process}.{key}") ? "job file" : model is null ? "ai-toolkit default"
                : "model default";
        T Pick<T>(string key, T given, T stated) => Source(key) == "model default" ? stated : given;

        s.Width = Pick("sample.width", s.Width, model?.Width ?? 0);
        s.Height = Pick("sample.height", s.Height, model?.Height ?? 0);
        s.SampleSteps = Pick("sample.sample_steps", s.SampleSteps, model?.SampleSteps ?? 0);
        s.GuidanceScale = Pick("sample.guidance_scale", s.GuidanceScale, model?.GuidanceScale ?? 0);
        var lines = new List<string>
        {
            $"# sample width {s.Width} ({Source("sample.width")}), height {s.Height} ({Source("sample.height")}), " +
            $"sample_steps {s.SampleSteps} ({Source("sample.sample_steps")}), guidance_scale " +
            $"{s.GuidanceScale.ToString("G6", CultureInfo.InvariantCulture)} ({Source("sample.guidance_scale")})",
        };
        for (int i = 0; i < p.Datasets.Count; i++)
        {
            var key = $"datasets[{i}].resolution";
            p.Datasets[i].Resolution = Pick(key, p.Datasets[i].Resolution, new List<int> { model?.Width ?? 0 });
            lines.Add($"# {key} [{string.Join(", ", p.Datasets[i].Resolution)}] ({Source(key)})");
        }
        if (model is not null) lines.Add($"# {model.Source}");
        return loaded with { Notes = lines };
    }
}
