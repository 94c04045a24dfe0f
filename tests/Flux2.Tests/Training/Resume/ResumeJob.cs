using Flux2.IO;
using Flux2.Native;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training.Resume;

/// <summary>Tiny-random jobs with every source of state the resume must carry: EMA, gradient accumulation 2, caption
/// dropout 0.3 and flip_x (so the PRNG and the data order both matter), and helpers to compare their outputs.</summary>
static class ResumeJob
{
    public static string Yaml(string dataset, string output, int steps, int rank = 4, int saveEvery = 10) =>
        TempDataset.Job(dataset, output, steps,
                extraTrain: "ema_config: {use_ema: true, ema_decay: 0.9}\n        gradient_accumulation: 2")
            .Replace("caption_ext: txt",
                "caption_ext: txt\n          caption_dropout_rate: 0.3\n          flip_x: true")
            .Replace("linear: 4, linear_alpha: 4", $"linear: {rank}, linear_alpha: {rank}, dropout: 0.1")
            .Replace("save_every: 10", $"save_every: {saveEvery}");

    public static TrainingRunResult Train(ITestOutputHelper output, string dataset, string outDir, int steps,
                                          int rank = 4, int saveEvery = 10, bool restart = false,
                                          CancellationToken cancel = default, Action<StepReport>? onStep = null)
    {
        TorchRuntime.EnsureLoaded();
        var loaded = JobConfigReader.Parse(Yaml(dataset, outDir, steps, rank, saveEvery), "resume.yaml");
        Assert.Empty(loaded.Warnings);
        return TrainingRun.Run(loaded, new TrainerCallbacks { OnMessage = output.WriteLine, OnStep = onStep }, cancel,
            restart);
    }

    /// <summary>Asserts two safetensors files hold the same tensor names with bit-identical contents.</summary>
    public static void AssertSameTensors(string expected, string actual)
    {
        using var a = SafetensorsFile.Open(expected);
        using var b = SafetensorsFile.Open(actual);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys)
        {
            using var x = a.Read(key);
            using var y = b.Read(key);
            Assert.True(x.dtype == y.dtype && x.shape.SequenceEqual(y.shape) && x.bytes.SequenceEqual(y.bytes),
                        // the bytes: bit-identical, not just equal values
                        $"{key} differs: max |diff| " +
                        $"{(x.to(ScalarType.Float64) - y.to(ScalarType.Float64)).abs().max().item<double>()}");
        }
    }
}
