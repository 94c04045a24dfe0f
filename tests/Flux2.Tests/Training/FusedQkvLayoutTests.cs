using Flux2.IO;
using Flux2.Native;
using Flux2.Pipeline;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training;

/// <summary>A rank-32 job with the default (ai-toolkit) targets saves what ai-toolkit saves for FLUX.2: one adapter
/// per Linear of the BFL model's double and single blocks — on the fused attention <c>qkv</c> one lora_A [32, in] and
/// one lora_B [3·out, 32] — and trains that many parameters, 32 × Σ (in + out) (docs/ai-toolkit-compat.md
/// §2.10).</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class FusedQkvLayoutTests(ITestOutputHelper output)
{
    [Fact]
    public void RankThirtyTwoFileHasAiToolkitShapesAndParameterCount()
    {
        TorchRuntime.EnsureLoaded();
        var yaml = TempDataset.Job(TempDataset.Create(), TestPaths.TempDir(), 2, "disable_sampling: true")
            .Replace("linear: 4, linear_alpha: 4", "linear: 32, linear_alpha: 32");
        var log = new List<string>();
        var result = TrainingRun.Run(JobConfigReader.Parse(yaml, "tiny.yaml"),
            new TrainerCallbacks { OnMessage = m => { log.Add(m); output.WriteLine(m); } });

        // ai-toolkit's targets: every Linear of the BFL transformer inside double_blocks / single_blocks.
        using var models = Flux2Models.CreateTinyRandom(0);
        var expected = new Dictionary<string, (long In, long Out)>();
        foreach (var (name, module) in models.Transformer.named_modules())
        {
            if (module is not Flux2.Nn.Linear linear) continue;
            var bfl = BflTransformerKeyMap.ToBfl(name + ".weight");
            if (bfl is null || !(bfl.Key.StartsWith("double_blocks.") || bfl.Key.StartsWith("single_blocks.")))
                continue;
            var key = "diffusion_model." + bfl.Key[..^".weight".Length];
            expected[key] = expected.TryGetValue(key, out var s) ? (s.In, s.Out + linear.OutFeatures)
                : (linear.InFeatures, linear.OutFeatures);
        }
        Assert.Contains(expected.Keys, k => k.EndsWith(".img_attn.qkv"));

        using var file = SafetensorsFile.Open(result.FinalLora);
        var keys = file.Keys.ToList();
        Assert.Equal(expected.Keys.SelectMany(k => new[] { k + ".lora_A.weight", k + ".lora_B.weight" }).Order(),
            keys.Order());
        long count = 0;
        foreach (var (module, (inF, outF)) in expected)
        {
            Assert.Equal(new[] { 32L, inF }, file.Entries[module + ".lora_A.weight"].Shape);
            Assert.Equal(new[] { outF, 32L }, file.Entries[module + ".lora_B.weight"].Shape);
            count += 32 * (inF + outF);
        }
        Assert.Contains(log, l => l.Contains($"{count:N0} trainable parameters"));
    }
}
