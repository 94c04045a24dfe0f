using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Cli;

/// <summary><c>./flux2 bench train</c> on the tiny config on CPU: runs, prints what it promises, rejects bad
/// input.</summary>
public class BenchTrainCliTests(ITestOutputHelper output)
{
    [Fact]
    public void TinyOnCpuRunsThreeStepsAndReportsTimeAndFlops()
    {
        var r = CliRunner.Run("bench", "train", "--config", "tiny", "--device", "cpu", "--steps", "3", "--targets",
            "ai-toolkit");
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("gradient checkpointing on", r.Out);
        Assert.Contains("LoRA rank 32 on 28 Linears",
            r.Out);   // ai-toolkit targets: 7 + 7 Linears per double block, 2 per single
        Assert.Equal(3, Regex.Matches(r.Out, @"^  step \d", RegexOptions.Multiline).Count);
        Assert.Contains("step 1 (warm-up)", r.Out);
        Assert.Matches(@"median \d+\.\d{3} s/step over 1 steps", r.Out);
        Assert.Matches(@"achieved [\d.]+ [TGM]?FLOP/s", r.Out);
        Assert.Matches(@"loss \d+\.\d{4}", r.Out);
        Assert.Contains("pass --peak-tflops", r.Out);                // CPU: no known peak
    }

    [Fact]
    public void MemoryModeReportsStepTenAndTheLastStep()
    {
        var r = CliRunner.Run("bench", "train", "--config", "tiny", "--device", "cpu", "--size", "64", "--text-tokens",
                              "16", "--rank", "16", "--memory-steps", "12", "--no-checkpointing", "--peak-tflops", "1");
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("gradient checkpointing off", r.Out);
        Assert.Contains("memory at step 10:", r.Out);
        Assert.Matches(@"memory at step 12: [\d.]+ GiB .*change since step 10", r.Out);
        Assert.Matches(@"MFU [\d.]+ ?% of 1\.0 TFLOP/s", r.Out);
    }

    [Theory]
    [InlineData("qint8"), InlineData("uint4")]
    public void TierBRunsWithQuantizedWeightsOnTheCpuToo(string qtype)
    {
        var r = CliRunner.Run("bench", "train", "--config", "tiny", "--device", "cpu", "--tier", "B", "--qtype",
            qtype, "--steps", "3");
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains($"({qtype} Linear weights)", r.Out);
        // The config's parameter count, whatever the storage (uint4 packs two weights per byte).
        Assert.Contains($"{Flux2.Models.Transformer.TransformerConfig.Tiny.ParameterCount():N0} parameters", r.Out);
        Assert.Contains("LoRA rank 32 on 12 Linears",
            r.Out);        // diffusers targets: 4 per double block, 2 per single
    }

    [Theory]
    [InlineData("A", "layer offloading needs CUDA")]
    [InlineData("D", "--tier must be C")]
    public void TiersThatCannotRunSaySo(string tier, string message)
        => CliRunner.AssertUserError(CliRunner.Run("bench", "train", "--config", "tiny", "--device", "cpu", "--tier",
            tier), message);

    [Fact]
    public void AnUnsupportedQtypeIsAUserErrorListingTheSupportedOnes()
    {
        var r = CliRunner.Run("bench", "train", "--config", "tiny", "--device", "cpu", "--tier", "B", "--qtype",
            "qint4");
        CliRunner.AssertUserError(r, "--qtype: unsupported qtype 'qint4'");
        Assert.Contains("uint4", r.Err);
        Assert.Contains("qfloat8", r.Err);
    }

    [Theory]
    [InlineData("--size", "100", "multiple of 16")]
    [InlineData("--steps", "2", "must exceed --warmup")]
    [InlineData("--rank", "0", "--rank must be at least 1")]
    [InlineData("--memory-steps", "5", "needs at least 10")]
    [InlineData("--config", "huge", "unknown transformer preset")]
    [InlineData("--optimizer", "sgd", "adamw or adamw8bit")]
    [InlineData("--gpus", "0", "--gpus must be at least 1")]
    public void BadOptionsAreUserErrors(string option, string value, string message)
        => CliRunner.AssertUserError(CliRunner.Run("bench", "train", "--config", "tiny", "--device", "cpu", option,
            value), message);

    [Fact]
    public void TwoCpuRanksAverageTheLossAndReportTheThroughputOfBoth()
    {
        // Ranks are child processes of the real CLI (the launcher starts this program again), so not in-process.
        var two = RunCli("bench", "train", "--config", "tiny", "--device", "cpu", "--size", "64", "--text-tokens",
            "16", "--gpus", "2", "--steps", "3");
        Assert.True(two.Exit == 0, two.Output);
        Assert.Contains("launching 2 rank(s)", two.Output);
        Assert.Contains("collectives store", two.Output);
        Assert.Contains("64x64: 16 image + 16 text tokens, batch 1 per rank x 2 ranks",
            two.Output);   // the children got the options
        Assert.Equal(3, Regex.Matches(two.Output, @"^  step \d", RegexOptions.Multiline)
            .Count);   // rank 0 alone prints
        Assert.Matches(@"throughput: \d+\.\d{3} images/s \(2 CPU processes x batch 1\)", two.Output);

        var one = CliRunner.Run("bench", "train", "--config", "tiny", "--device", "cpu", "--size", "64",
            "--text-tokens", "16", "--steps", "3");
        Assert.True(one.Exit == 0, one.ToString());
        Assert.Matches(@"throughput: \d+\.\d{3} images/s \(1 CPU process x batch 1\)", one.Out);
        // Rank 0 draws the single run's sample; rank 1 its own, so the shown (averaged) loss of step 1 differs.
        double FirstLoss(string text) => double.Parse(Regex.Match(text, @"step 1 \(warm-up\): \d+ ms, loss (\d+\.\d+)")
            .Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.NotEqual(FirstLoss(one.Out), FirstLoss(two.Output));
    }

    [Fact]
    public void RanksTakeTheirGpuFromTheLocalRankNotFromDevice()
        => CliRunner.AssertUserError(CliRunner.Run("bench", "train", "--config", "tiny", "--device", "cuda:1",
            "--gpus", "2"), "--device must be auto, cuda or cpu");

    static (int Exit, string Output) RunCli(params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "flux2"))
        {
            RedirectStandardOutput =
            true,
            RedirectStandardError = true
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var v in new[] { "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT" })
            psi.Environment.Remove(v);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var text = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); throw new TimeoutException(text); }
        return (p.ExitCode, text + "\n--- stderr ---\n" + err.Result);
    }

    [Fact]
    public void BenchHelpListsTrain()
    {
        var r = CliRunner.Run("help", "bench");
        Assert.Contains("./flux2 bench train", r.Out);
        Assert.Contains("--memory-steps", r.Out);
        Assert.Contains("--gpus N", r.Out);
    }
}
