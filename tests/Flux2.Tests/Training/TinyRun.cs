using Flux2.Training;
using Flux2.Training.Config;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>A whole <see cref="TrainingRun"/> of a job YAML, with what equivalence tests compare: the per-step losses,
/// the saved LoRA and the log.</summary>
public sealed record TinyRun(List<double> Losses, string Lora, string Log)
{
    public static TinyRun Train(string yaml)
    {
        var loaded = JobConfigReader.Parse(yaml, "tiny.yaml");
        Assert.Empty(loaded.Warnings);
        var losses = new List<double>();
        var log = new List<string>();
        var result = TrainingRun.Run(loaded, new TrainerCallbacks
        {
            OnStep = r => losses.Add(r.Loss),
            OnMessage = log.Add
        });
        return new TinyRun(losses, result.FinalLora, string.Join("\n", log));
    }

    /// <summary>Every tensor of the two saved LoRAs within <paramref name="relative"/> of the first's largest
    /// value.</summary>
    public static void AssertSameLora(string a, string b, double relative)
    {
        using var x = Flux2.IO.SafetensorsSource.OpenFile(a);
        using var y = Flux2.IO.SafetensorsSource.OpenFile(b);
        Assert.Equal(x.Keys.OrderBy(k => k), y.Keys.OrderBy(k => k));
        foreach (var key in x.Keys)
        {
            using var u = x.Read(key);
            using var v = y.Read(key);
            Assert.True((u - v).abs().max().item<float>() <= relative * Math.Max(1e-12, u.abs().max().item<float>()),
                $"{key} differs");
        }
    }
}
