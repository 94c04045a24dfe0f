using Flux2.Data.Synthetic;
using Flux2.IO;
using Flux2.Tests.Evaluation;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

/// <summary>An ai-toolkit job with <c>quantize: true, qtype: uint4</c> (and <c>qtype_te: uint4</c>) trains a LoRA on
/// FLUX.2-micro: both models load quantized to uint4, every step applies with a finite loss, and the saved LoRA has
/// moved off its zero-initialized up matrices.</summary>
public class Uint4MicroJobTests(ITestOutputHelper output)
{
    [MicroModelFact]
    public void AUint4JobTrainsAFewStepsOnMicro()
    {
        var root = TestPaths.TempDir();
        var data = Path.Combine(root, "data");
        DatasetFolderWriter.Write(SampleDatasetKind.Style, data, count: 4, seed: 1, size: 128);
        var loaded = JobConfigReader.Parse($"""
            job: extension
            config:
              name: uint4
              process:
                - type: sd_trainer
                  training_folder: {root}
                  device: cpu
                  trigger_word: {SampleDatasets.StyleTrigger}
                  network: {"{"}type: lora, linear: 4, linear_alpha: 4{"}"}
                  datasets:
                    - folder_path: {data}
                  train: {"{"}steps: 4, lr: 0.001, disable_sampling: true{"}"}
                  model:
                    name_or_path: flux2-micro
                    quantize: true
                    qtype: uint4
                    qtype_te: uint4
            """, "uint4.yaml");
        var messages = new List<string>();
        var steps = new List<StepReport>();
        var run = TrainingRun.Run(loaded, new TrainerCallbacks
        {
            OnMessage = m => { messages.Add(m); output.WriteLine(m); },
            OnStep = s => { steps.Add(s); output.WriteLine($"step {s.Step}: loss {s.Loss:F4}"); },
        });
        Assert.Contains(messages, m => m.Contains("quantizing to uint4 while loading") && m.Contains("transformer"));
        Assert.Contains(messages, m => m.Contains("encoder, quantizing to uint4 while loading"));
        Assert.Equal(4, steps.Count);
        Assert.All(steps, s => Assert.True(s.Applied && double.IsFinite(s.Loss), $"step {s.Step}: {s.Loss}"));
        using var lora = SafetensorsSource.OpenFile(run.FinalLora);
        var ups = lora.Keys.Where(k => k.Contains("lora_B")).ToList();
        Assert.NotEmpty(ups);
        Assert.Contains(ups, k =>
        {
            using var b = lora.Read(k, dtype: ScalarType.Float32);
            return b.abs().max().item<float>() > 0;
        });
    }
}
