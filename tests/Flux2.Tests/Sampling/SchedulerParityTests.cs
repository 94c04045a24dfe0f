using System.Text.RegularExpressions;
using Flux2.IO;
using Flux2.Native;
using Flux2.Sampling;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Sampling;

public class SchedulerParityTests(ITestOutputHelper output)
{
    [Fact]
    public void EverySigmaAndTimestepTableMatchesReference()
    {
        TorchRuntime.EnsureLoaded();
        var scheduler =
            FlowMatchEulerScheduler.FromJson(Path.Combine(TestPaths.Tiny, "scheduler", "scheduler_config.json"));
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "pipeline_io.safetensors"));
        int tables = 0;
        foreach (var key in io.Keys)
        {
            var m = Regex.Match(key, @"^(sigmas|timesteps)_seq(\d+)_steps(\d+)$");
            if (!m.Success) continue;
            int seq = int.Parse(m.Groups[2].Value), steps = int.Parse(m.Groups[3].Value);
            var ours = m.Groups[1].Value == "sigmas" ? scheduler.Sigmas(steps, seq) : scheduler.Timesteps(steps, seq);
            var reference = io.Read(key).data<float>().ToArray();
            Assert.Equal(reference.Length, ours.Length);
            // timesteps are sigma x 1000: compare them relative to that scale
            double scale = m.Groups[1].Value == "sigmas" ? 1 : 1000;
            double err = reference.Zip(ours, (a, b) => Math.Abs(a - b) / scale).Max();
            output.WriteLine($"{key}: max abs error {err:E2}{(scale > 1 ? " (relative to 1000)" : "")}");
            Assert.True(err <= 1e-6, $"{key}: {err}");
            tables++;
        }
        Assert.Equal(12, tables);
    }

    [Theory]
    [InlineData(4096, 50, 2.0234)]
    [InlineData(4096, 28, 2.1514)]
    [InlineData(4096, 4, 2.2912)]
    [InlineData(1024, 50, 1.7020)]
    [InlineData(6144, 28, 1.4967)]
    public void EmpiricalMuMatchesWorkedExamples(int tokens, int steps, double mu) =>
        Assert.Equal(mu, FlowMatchEulerScheduler.EmpiricalMu(tokens, steps), 3);

    [Fact]
    public void SigmasStartAtOneEndAtZeroAndDecrease()
    {
        var s = new FlowMatchEulerScheduler().Sigmas(28, 4096);
        Assert.Equal(1f, s[0], 5);
        Assert.Equal(0f, s[^1]);
        for (int i = 1; i < s.Length; i++) Assert.True(s[i] < s[i - 1]);
    }

    [Fact]
    public void UnsupportedSchedulerOptionIsNamed()
    {
        var dir = TestPaths.TempDir();
        var f = Path.Combine(dir, "scheduler_config.json");
        File.WriteAllText(f, "{\"use_karras_sigmas\": true}");
        var e = Assert.Throws<ConfigException>(() => FlowMatchEulerScheduler.FromJson(f));
        Assert.Equal("use_karras_sigmas", e.Key);
        Assert.Contains(f, e.Message);
        Assert.Contains("use_karras_sigmas", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowMatchEulerScheduler().Sigmas(0, 16));
    }
}
