using Flux2.IO;
using Flux2.Models;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Xunit;

namespace Flux2.Tests.Evaluation;

/// <summary>Native size and sample settings per model: stated by a model folder's sample_defaults.json, used only
/// where the user gave no value.</summary>
public class ModelSampleDefaultsTests
{
    static string Job(string model, string sample = "", string resolution = "") => $"""
        job: extension
        config:
          name: defaults
          process:
            - type: sd_trainer
              trigger_word: zqx
              datasets:
                - folder_path: data
                  {resolution}
              model: {"{"}name_or_path: {model}{"}"}
              {sample}
        """;

    [MicroModelFact]
    public void TheMicroModelStatesItsNativeSize()
    {
        var d = ModelSampleDefaults.For(MicroModel.Name);
        Assert.Equal((128, 128, 20, 2.0), (d.Width, d.Height, d.SampleSteps, d.GuidanceScale));
        Assert.Contains(ModelSampleDefaults.FileName, d.Source);
    }

    [Fact]
    public void AFolderWithoutTheFileSamplesAtFlux2DevSize()
    {
        var folder = TestPaths.TempDir();
        Assert.Null(ModelSampleDefaults.StatedFor(folder));
        var d = ModelSampleDefaults.For(folder);
        Assert.Equal((1024, 1024, 50, 4.0), (d.Width, d.Height, d.SampleSteps, d.GuidanceScale));
        Assert.Equal((64, 64, 8), (ModelSampleDefaults.For(Flux2Models.TinyRandom).Width,
            ModelSampleDefaults.For(Flux2Models.TinyRandom).Height,
            ModelSampleDefaults.For(Flux2Models.TinyRandom).SampleSteps));
    }

    [Fact]
    public void AStatedFileIsReadAndAMalformedOneNamesItsKey()
    {
        var folder = TestPaths.TempDir();
        var path = Path.Combine(folder, ModelSampleDefaults.FileName);
        File.WriteAllText(path, """{"width": 256, "height": 192, "sample_steps": 12, "guidance_scale": 3.5}""");
        var d = ModelSampleDefaults.For(folder);
        Assert.Equal((256, 192, 12, 3.5), (d.Width, d.Height, d.SampleSteps, d.GuidanceScale));
        File.WriteAllText(path, """{"width": 256, "height": 192, "sample_steps": 0, "guidance_scale": 3.5}""");
        var e = Assert.Throws<ConfigException>(() => ModelSampleDefaults.For(folder));
        Assert.Equal("sample_steps", e.Key);
        File.WriteAllText(path, """{"width": 256, "sample_steps": 12, "guidance_scale": 3.5}""");
        Assert.Equal("height", Assert.Throws<ConfigException>(() => ModelSampleDefaults.For(folder)).Key);
    }

    [Fact]
    public void AJobWithoutSampleKeysTakesTheModelsStatedSettings()
    {
        var model = new ModelSampleDefaults(128, 96, 20, 4.0, "model default from test");
        var loaded = JobModelDefaults.Apply(JobConfigReader.Parse(Job("some/model")), model);
        var p = loaded.Job.Process;
        Assert.Equal((128, 96, 20, 4.0), (p.Sample.Width, p.Sample.Height, p.Sample.SampleSteps,
            p.Sample.GuidanceScale));
        Assert.Equal(new[] { 128 }, p.Datasets[0].Resolution);
        Assert.Contains(loaded.Notes, n => n.Contains("width 128 (model default)"));
        Assert.Contains(loaded.Notes, n => n.Contains("datasets[0].resolution [128] (model default)"));
        var printed = new StringWriter();
        JobConfigPrinter.Print(loaded, printed);
        Assert.Contains("guidance_scale 4 (model default)", printed.ToString());
    }

    [Fact]
    public void ExplicitJobValuesWinKeyByKey()
    {
        var model = new ModelSampleDefaults(128, 128, 20, 4.0, "model default from test");
        var loaded = JobModelDefaults.Apply(JobConfigReader.Parse(Job("some/model",
            "sample: {width: 256, guidance_scale: 2.5}", "resolution: [64, 96]")), model);
        var p = loaded.Job.Process;
        Assert.Equal((256, 128, 20, 2.5), (p.Sample.Width, p.Sample.Height, p.Sample.SampleSteps,
            p.Sample.GuidanceScale));
        Assert.Equal(new[] { 64, 96 }, p.Datasets[0].Resolution);
        Assert.Contains(loaded.Notes, n => n.Contains("width 256 (job file)") && n.Contains("height 128 (model"));
        // applying again changes nothing
        var again = JobModelDefaults.Apply(loaded, model).Job.Process;
        Assert.Equal((256, 128, 2.5), (again.Sample.Width, again.Sample.Height, again.Sample.GuidanceScale));
    }

    [Fact]
    public void AModelThatStatesNothingKeepsTheAiToolkitJobDefaults()
    {
        var folder = TestPaths.TempDir();
        var loaded = JobModelDefaults.Apply(JobConfigReader.Parse(Job(folder)));
        var p = loaded.Job.Process;
        Assert.Equal((512, 512, 20, 7.0), (p.Sample.Width, p.Sample.Height, p.Sample.SampleSteps,
            p.Sample.GuidanceScale));
        Assert.Equal(new[] { 512 }, p.Datasets[0].Resolution);
        Assert.Contains(loaded.Notes, n => n.Contains("width 512 (ai-toolkit default)"));
    }

    [MicroModelFact]
    public void AMicroJobWithoutSampleKeysSamplesAt128()
    {
        var loaded = JobModelDefaults.Apply(JobConfigReader.Parse(Job(MicroModel.Name)));
        var p = loaded.Job.Process;
        Assert.Equal((128, 128, 20, 2.0), (p.Sample.Width, p.Sample.Height, p.Sample.SampleSteps,
            p.Sample.GuidanceScale));
        Assert.Equal(new[] { 128 }, p.Datasets[0].Resolution);
    }
}
