using Flux2.Training;
using Flux2.Training.Config;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>The docs/lora-guide.md §5.3 survival plan made concrete: only changes that apply to this job, with their
/// new values.</summary>
public class OutOfMemoryAdviceTests
{
    static JobFile Job(Action<ProcessConfig>? edit = null)
    {
        var p = new ProcessConfig
        {
            Device = "cuda",
            Datasets = { new DatasetConfig { FolderPath = "d", Resolution = new() { 1024 } } },
            Network = new NetworkConfig { Linear = 32, LinearAlpha = 32 },
            Train = new TrainConfig { BatchSize = 4 },
        };
        edit?.Invoke(p);
        return new JobFile { Config = new JobSection { Name = "x", Process = { p } } };
    }

    static Dictionary<string, string> Advice(JobFile job) => OutOfMemoryAdvice.For(job)
        .ToDictionary(a => a.Key, a => a.To);

    [Fact]
    public void AFreshJobGetsTheWholePlanWithConcreteValues()
    {
        var advice = Advice(Job());
        Assert.Equal("[768]", advice["datasets[0].resolution"]);
        Assert.Equal("true", advice["train.gradient_checkpointing"]);
        Assert.Equal("1", advice["train.batch_size"]);
        Assert.Equal("true (qtype: qfloat8)", advice["model.quantize"]);
        Assert.Equal("true", advice["model.low_vram"]);
        Assert.StartsWith("true (layer_offloading_transformer_percent: 0.5)", advice["model.layer_offloading"]);
        Assert.StartsWith("16 (linear_alpha: 16", advice["network.linear"]);
        Assert.Equal("adamw8bit", advice["train.optimizer"]);
        Assert.Equal("datasets[0].resolution", OutOfMemoryAdvice.For(Job())[0].Key); // the guide's first step first
    }

    [Theory]
    [InlineData("batch 1", "train.batch_size")]
    [InlineData("checkpointing on", "train.gradient_checkpointing")]
    [InlineData("rank 16", "network.linear")]
    [InlineData("low_vram on", "model.low_vram")]
    [InlineData("adamw8bit", "train.optimizer")]
    [InlineData("resolution 256", "datasets[0].resolution")]
    public void ChangesAlreadyMadeAreNotSuggested(string already, string key)
    {
        var job = Job(p =>
        {
            switch (already)
            {
                case "batch 1": p.Train.BatchSize = 1; break;
                case "checkpointing on": p.Train.GradientCheckpointing = true; break;
                case "rank 16": p.Network.Linear = 16; break;
                case "low_vram on": p.Model.LowVram = true; break;
                case "adamw8bit": p.Train.Optimizer = OptimizerType.Adamw8bit; break;
                case "resolution 256": p.Datasets[0].Resolution = new() { 256 }; break;
            }
        });
        Assert.DoesNotContain(key, Advice(job).Keys);
        Assert.Contains(key, Advice(Job()).Keys); // and it is suggested when not already made
    }

    [Fact]
    public void WithCheckpointingOnKeepingItsInputsOnTheGpuIsTheNextThingToChange()
    {
        var kept = Advice(Job(p =>
        {
            p.Train.GradientCheckpointing = true; p.Train.GradientCheckpointingCpuOffload =
            false;
        }));
        Assert.Equal("true", kept["train.gradient_checkpointing_cpu_offload"]);
        Assert.DoesNotContain("train.gradient_checkpointing", kept.Keys);
        Assert.DoesNotContain("train.gradient_checkpointing_cpu_offload",
            Advice(Job(p => p.Train.GradientCheckpointing = true)).Keys); // on by default
        Assert.DoesNotContain("train.gradient_checkpointing_cpu_offload", Advice(Job()).Keys);
        // checkpointing itself comes first
    }

    [Theory]
    [InlineData(new[] { 512, 768, 1024 }, "[512, 768]")] // several sizes: drop the largest
    [InlineData(new[] { 1024 }, "[768]")]
    [InlineData(new[] { 768 }, "[576]")]
    [InlineData(new[] { 512 }, "[384]")]
    public void ResolutionStepsDown(int[] resolution, string expected)
        => Assert.Equal(expected, Advice(Job(p => p.Datasets[0].Resolution =
            resolution.ToList()))["datasets[0].resolution"]);

    [Fact]
    public void QuantizedAndOffloadedJobsGoFurther()
    {
        var advice = Advice(Job(p =>
        {
            p.Model.Quantize = true; p.Model.LayerOffloading = true; p.Model.LayerOffloadingTransformerPercent = 0.5;
            p.Train.DiffOutputPreservation = true;
        }));
        Assert.DoesNotContain("model.qtype", advice.Keys); // no 4-bit type to step down to: not suggested
        Assert.DoesNotContain("model.quantize", advice.Keys);
        Assert.Equal("0.75", advice["model.layer_offloading_transformer_percent"]);
        Assert.Equal("false", advice["train.diff_output_preservation"]);
    }

    [Theory]
    [InlineData("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.10 GiB total capacity)", true)]
    [InlineData("CUDA error: out of memory", true)]
    [InlineData("shape mismatch", false)]
    public void RecognisesLibtorchOutOfMemoryMessages(string message, bool expected)
    {
        Assert.Equal(expected, OutOfMemoryAdvice.IsOutOfMemory(new Exception("wrapper",
            new ExternalException(message))));
        var text = OutOfMemoryAdvice.Message(Job(), message);
        Assert.Contains("Survival plan (docs/lora-guide.md §5.3)", text);
        Assert.Contains("train.batch_size: 4 -> 1", text);
    }

    sealed class ExternalException(string message) : Exception(message);
}
