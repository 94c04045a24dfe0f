using Flux2.Training.Config;
using Xunit;

namespace Flux2.Tests.Training;

public class JobConfigTests
{
    static string ExamplePath =>
        Path.Combine(TestPaths.RepoRoot, "tests", "Flux2.Tests", "Training", "ai-toolkit-example.yaml");

    [Fact]
    public void AnnotatedAiToolkitExampleParses()
    {
        var loaded = JobConfigReader.Read(ExamplePath);
        Assert.Empty(loaded.Warnings); // adamw8bit is supported, so the example needs no note
        Assert.Equal(OptimizerType.Adamw8bit, loaded.Job.Process.Train.Optimizer);
        var job = loaded.Job;
        Assert.Equal("my_flux2_lora_v1", job.Config.Name);
        var p = job.Process;
        Assert.Equal("diffusion_trainer", p.Type);
        Assert.Null(p.TriggerWord);
        Assert.Equal(32, p.Network.Linear);
        Assert.Equal(32, p.Network.Alpha);
        Assert.Empty(p.Network.NetworkKwargs.IgnoreIfContains);
        Assert.Equal(Precision.Bf16, p.Save.Dtype);
        Assert.Equal(250, p.Save.SaveEvery);
        Assert.Equal(4, p.Save.MaxStepSavesToKeep);
        var d = Assert.Single(p.Datasets);
        Assert.Equal(new[] { 512, 768, 1024 }, d.Resolution);
        Assert.Equal(0.05, d.CaptionDropoutRate);
        Assert.Equal(3000, p.Train.Steps);
        Assert.Equal(1e-4, p.Train.Lr);
        Assert.Equal(1e-4, p.Train.OptimizerParams.WeightDecay);
        Assert.Equal(TimestepType.Weighted, p.Train.TimestepType);
        Assert.Equal(ContentOrStyle.Balanced, p.Train.ContentOrStyle);
        Assert.Equal(Precision.Bf16, p.Train.Dtype);
        Assert.Equal("black-forest-labs/FLUX.2-dev", p.Model.NameOrPath);
        Assert.Equal(1024, p.Sample.Width);
        Assert.True(p.Sample.WalkSeed);
        Assert.Equal(4, p.Sample.GuidanceScale);
        Assert.Equal(new[] { "[trigger] holding a sign that says 'hello'" }, p.Sample.AllPrompts);
        Assert.Equal("my_flux2_lora_v1", job.Meta["name"]);
        // Keys ai-toolkit knows but this kit does not act on are listed, not warned about.
        Assert.DoesNotContain("config.process[0].model.low_vram", loaded.IgnoredKeys); // acted on
        Assert.True(p.Model.LowVram);
        // quantize/qtype and quantize_te/qtype_te are acted on (weights quantized while loading).
        Assert.DoesNotContain("config.process[0].model.quantize", loaded.IgnoredKeys);
        Assert.True(p.Model.Quantize);
        Assert.Equal(WeightQuantization.Qfloat8, p.Model.Qtype);
        Assert.True(p.Model.QuantizeTe);
        Assert.DoesNotContain("config.process[0].train.gradient_checkpointing", loaded.IgnoredKeys); // acted on
        Assert.True(p.Train.GradientCheckpointing);
    }

    [Fact]
    public void AbsentKeysTakeTheDocumentedDefaults()
    {
        var job = JobConfigReader.Parse(Minimal("")).Job;
        var p = job.Process;
        Assert.Equal(4, p.Network.Linear);
        Assert.Equal(1.0, p.Network.Scale);
        Assert.Equal(1000, p.Save.SaveEvery);
        Assert.Equal(TimestepType.Sigmoid, p.Train.TimestepType);
        Assert.Equal(new[] { 512 }, p.Datasets[0].Resolution);
        Assert.Equal(Precision.Fp16, p.Save.Dtype);
    }

    [Fact]
    public void ScalarResolutionAliasesAndSampleItemsAreAccepted()
    {
        var job = JobConfigReader.Parse(Minimal("""
                  network: {rank: 8, linear_alpha: 4}
                  sample:
                    prompts: ["a [trigger]"]
                    samples: [{prompt: "b"}]
            """, dataset: "resolution: 256")).Job;
        Assert.Equal(new[] { 256 }, job.Process.Datasets[0].Resolution);
        Assert.Equal(8, job.Process.Network.Linear);
        Assert.Equal(0.5, job.Process.Network.Scale);
        Assert.Equal(new[] { "a [trigger]", "b" }, job.Process.Sample.AllPrompts);
    }

    [Fact]
    public void UnknownKeyWarnsWithNearestKnownKeyAndPosition()
    {
        var loaded = JobConfigReader.Parse(Minimal("""
                  train:
                    stepps: 10
            """), "my.yaml");
        var w = Assert.Single(loaded.Warnings);
        Assert.Contains("'config.process[0].train.stepps'", w.Message);
        Assert.Contains("did you mean 'steps'?", w.Message);
        Assert.Equal(("my.yaml", 12L, 9L), (w.At.File, w.At.Line, w.At.Column));
        Assert.Equal(1000, loaded.Job.Process.Train.Steps);
    }

    [Fact]
    public void WrongTypeFailsWithLineAndColumn()
    {
        var e = Assert.Throws<JobConfigException>(() => JobConfigReader.Parse(Minimal("""
                  train:
                    steps: lots
            """), "bad.yaml"));
        Assert.StartsWith("bad.yaml:12:16: ", e.Message);
        Assert.Contains("must be an integer", e.Message);
    }

    [Theory]
    [InlineData("train: {timestep_type: sigmod}", "nearest: 'sigmoid'")]
    [InlineData("train: {lr: -1}", "must be at least 0")]
    [InlineData("datasets_extra: 1\n      train: {batch_size: [1, 2]}", "must be a single value")]
    [InlineData("network: {linear: 0}", "must be between 1 and 1024")]
    [InlineData("train: {min_denoising_steps: 500, max_denoising_steps: 400}", "must be above min_denoising_steps")]
    public void BadValuesFailWithAReason(string section, string expected)
    {
        var e = Assert.Throws<JobConfigException>(() => JobConfigReader.Parse(Minimal("      " + section)));
        Assert.Contains(expected, e.Message);
        Assert.Matches(@"^job\.yaml:\d+:\d+: ", e.Message);
    }

    [Fact]
    public void MalformedYamlReportsItsPosition()
    {
        var e =
            Assert.Throws<JobConfigException>(() => JobConfigReader.Parse("job: extension\nconfig:\n  name: [oops\n",
                "x.yaml"));
        Assert.StartsWith("x.yaml:", e.Message);
        Assert.Contains("not valid YAML", e.Message);
    }

    [Fact]
    public void PrintShowsEveryResolvedKey()
    {
        var loaded = JobConfigReader.Parse(Minimal(""));
        var o = new StringWriter();
        JobConfigPrinter.Print(loaded, o);
        var text = o.ToString();
        Assert.Contains("config.process[0].train.lr ", text);
        Assert.Contains("config.process[0].datasets[0].folder_path", text);
        Assert.Matches(@"config\.process\[0\]\.train\.timestep_type\s+= sigmoid", text);
        Assert.Matches(@"config\.process\[0\]\.save\.dtype\s+= fp16", text);
    }

    /// <summary>A minimal job; <paramref name="extra"/> lines go inside process[0] (6-space indent), starting at line
    /// 11.</summary>
    internal static string Minimal(string extra, string dataset = "caption_ext: txt") => $"""
        job: extension
        config:
          name: test_run
          process:
            - type: sd_trainer
              training_folder: out
              model: {"{"}name_or_path: tiny-random{"}"}
              datasets:
                - folder_path: /tmp/data
                  {dataset}
        {extra}
        """;
}
