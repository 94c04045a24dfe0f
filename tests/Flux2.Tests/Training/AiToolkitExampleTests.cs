using System.Text.RegularExpressions;
using Flux2.Cli;
using Flux2.Native;
using Flux2.Training;
using Flux2.Training.Config;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Training;

/// <summary>The annotated ai-toolkit example runs as written (paths and sizes pointed at this repo), and
/// typo'd keys / wrong types give the promised messages.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class AiToolkitExampleTests(ITestOutputHelper output)
{
    static string Example => File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "tests", "Flux2.Tests", "Training",
        "ai-toolkit-example.yaml"));

    /// <summary>The example with only what must change for a CPU test: data, model, output, device, steps and
    /// sizes.</summary>
    static string RunnableExample(string outDir)
    {
        var replacements = new (string key, string value)[]
        {
            ("folder_path", Path.Combine(TestPaths.RepoRoot, "datasets-sample", "zorblax_robot")),
            ("name_or_path", "flux2-micro"),
            ("training_folder", outDir),
            ("device", "cpu"),
            ("steps", "2"),
            ("resolution", "[128]"),
            ("width", "128"), ("height", "128"), ("sample_steps", "2"),
            ("linear", "4"), ("linear_alpha", "4"),
            ("dtype", "fp32"),
        };
        var yaml = Example;
        foreach (var (key, value) in replacements)
            yaml = Regex.Replace(yaml, $@"^(\s+(?:- )?{key}:)[^#\n]*", $"$1 {value}    ", RegexOptions.Multiline);
        return yaml;
    }

    [Fact]
    public void AnnotatedExampleRunsEndToEnd()
    {
        TorchRuntime.EnsureLoaded();
        var outDir = TestPaths.TempDir();
        var loaded = JobConfigReader.Parse(RunnableExample(outDir), "ai-toolkit-example.yaml");
        foreach (var w in loaded.Warnings) output.WriteLine(w.ToString());
        Assert.Equal("flux2-micro", loaded.Job.Process.Model.NameOrPath);
        Assert.Equal(new[] { 128 }, loaded.Job.Process.Datasets[0].Resolution);
        var steps = new List<StepReport>();
        var result = TrainingRun.Run(loaded, new TrainerCallbacks { OnStep = steps.Add, OnMessage = output.WriteLine });
        Assert.Equal(2, steps.Count);
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Loss)));
        Assert.True(File.Exists(result.FinalLora), result.FinalLora);
        Assert.EndsWith("my_flux2_lora_v1.safetensors", result.FinalLora);
    }

    [Theory]
    [InlineData("train", "stepps: 10", "did you mean 'steps'?")]                                  // same section
    [InlineData("train", "linaer: 8", "did you mean 'linear' (a key of 'config.process[0].network')?")]
    // rank put under train
    [InlineData("sample", "lr: 1",
        "did you mean 'lr' (a key of 'config.process[0].train')?")]            // right key, wrong section
    [InlineData("model", "sample_evry: 5", "did you mean 'sample_every' (a key of 'config.process[0].sample')?")]
    public void TypoedKeyWarnsWithTheNearestKeyOfAnySectionAndItsPosition(string section, string line, string expected)
    {
        var yaml = $"""
            job: extension
            config:
              name: x
              process:
                - datasets: [{"{"}folder_path: d{"}"}]
                  {section}:
                    {line}
            """;
        var loaded = JobConfigReader.Parse(yaml, "typo.yaml");
        var w = Assert.Single(loaded.Warnings);
        Assert.Contains(expected, w.Message);
        Assert.Equal(("typo.yaml", 7L, 9L), (w.At.File, w.At.Line, w.At.Column));
    }

    [Fact]
    public void WrongTypeThroughTheCliExitsTwoWithFileLineColumnAndNoStackTrace()
    {
        var dir = TestPaths.TempDir();
        var path = Path.Combine(dir, "bad.yaml");
        File.WriteAllText(path, RunnableExample(dir).Replace("batch_size: 1\n", "batch_size: one\n"));
        var line = File.ReadAllLines(path).Select((l, i) => (l, i)).First(x => x.l.Contains("batch_size: one")).i + 1;
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Flux2Cli.Run(new[] { "train", path }, o, e);
        output.WriteLine(e.ToString());
        Assert.Equal(2, code);
        Assert.Contains($"{path}:{line}:21: ", e.ToString());
        Assert.Contains("must be an integer", e.ToString());
        Assert.DoesNotContain("   at ", e.ToString());
    }
}
