using System.Diagnostics;
using Flux2.Native;
using Flux2.Tests.Training;
using Flux2.Training.Config;
using Flux2.Training.Data;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Cli;

/// <summary>Outputs that cannot be written, sizes beyond the limits, non-finite numbers and hostile files (deep
/// YAML, devices, FIFOs, huge image headers): each ends in exit 2 with one line naming the option, key or file,
/// before any model is loaded; none crashes, hangs or allocates without bound.</summary>
public class HostileInputTests(ITestOutputHelper output)
{
    readonly string dir = TestPaths.TempDir();
    static string LoraFixture => Path.Combine(TestPaths.Tiny, "lora", "pytorch_lora_weights.safetensors");

    CliRunner.Result Refused(string[] argv, params string[] phrases)
    {
        var sw = Stopwatch.StartNew();
        var r = CliRunner.Run(argv);
        output.WriteLine($"{string.Join(" ", argv)} -> {r} ({sw.ElapsedMilliseconds} ms)");
        return CliRunner.AssertUserError(r, phrases);
    }

    static string[] Generate(params string[] options) => ["generate", "--prompt", "a red circle", .. options];

    // ---------------------------------------------------------------- 3. outputs

    [Fact]
    public void AnOutputThatIsAFolderIsRefusedNamingIt()
    {
        Refused(Generate("--out", dir), "--out", dir, "is a folder");
        Refused(["lora", "convert", LoraFixture, dir, "--to", "comfyui"], dir, "is a folder");
    }

    [Fact]
    public void AnUnwritableOutputFolderIsRefusedNamingTheTargetNotTheTempFile()
    {
        var r = Refused(Generate("--out", "/sys/flux2-test/out.png"), "--out", "/sys/flux2-test/out.png");
        Assert.DoesNotContain(".tmp", r.Err);
        r = Refused(["lora", "convert", LoraFixture, "/proc/flux2.safetensors", "--to", "comfyui"],
            "/proc/flux2.safetensors");
        Assert.DoesNotContain(".tmp", r.Err);
    }

    [Fact]
    public void AnOutputUnderAFileIsRefused()
    {
        var file = Path.Combine(dir, "file");
        File.WriteAllText(file, "x");
        Refused(Generate("--out", Path.Combine(file, "out.png")), "is a file");
    }

    // ---------------------------------------------------------------- 4. sizes and numbers

    [Theory]
    [InlineData("--width", "100000")]
    [InlineData("--height", "0")]
    [InlineData("--width", "-64")]
    public void GenerateSizesOutsideTheLimitsAreRefused(string option, string value)
        => Refused(Generate(option, value), "--width/--height", "8192");

    [Theory]
    [InlineData("--guidance", "NaN")]
    [InlineData("--guidance", "1e309")]
    [InlineData("--lora-strength", "NaN")]
    [InlineData("--lora-strength", "-Infinity")]
    public void NonFiniteNumbersAreRefused(string option, string value)
        => Refused(Generate(option, value), option, "finite");

    [Theory]
    [InlineData("NaN", "finite")]
    [InlineData("-1", "at least 0")]
    public void VerifyReferenceRefusesABadTolerance(string value, string phrase)
        => Refused(["verify-reference", dir, "--tolerance", value], "--tolerance", phrase);

    [Theory]
    [InlineData("forward", "--steps", "-3")]
    [InlineData("forward", "--steps", "0")]
    [InlineData("forward", "--size", "0")]
    [InlineData("forward", "--text-tokens", "-1")]
    [InlineData("text-encoder", "--tokens", "0")]
    [InlineData("train", "--steps", "-3")]
    [InlineData("train", "--rank", "0")]
    [InlineData("optimizer", "--steps", "0")]
    [InlineData("offload", "--slots", "0")]
    public void BenchRefusesNonPositiveSizesAndSteps(string bench, string option, string value)
        => Refused(["bench", bench, option, value, "--device", "cpu"], option);

    [Theory]
    [InlineData("23184")]
    [InlineData("32768")]
    public void SynthDatasetRefusesAHugeSize(string size)
        => Refused(["synth-dataset", "style", "--out", dir, "--size", size], "--size");

    [Fact]
    public void PretrainMicroRefusesAZeroBatchInsteadOfLoopingForever()
        => Refused(["pretrain-micro", "--vae-batch", "0", "--out", dir], "--vae-batch");

    [Fact]
    public void PretrainMicroRefusesDecoderOnlyWithoutAVaeToStartFrom()
        => Refused(["pretrain-micro", "--vae-decoder-only", "--out", dir], "--vae-from");

    [Fact]
    public void PretrainMicroRefusesALookShareAboveOne()
        => Refused(["pretrain-micro", "--vae-look-share", "1.5", "--out", dir], "--vae-look-share");

    [Fact]
    public void AReferenceWhoseHeaderClaimsAHugeImageIsRefusedBeforeDecoding()
    {
        var png = Path.Combine(dir, "huge.png");
        File.WriteAllBytes(png, HugeHeaderPng(30000, 30000));
        Refused(Generate("--reference", png), "--reference", png);
    }

    [Fact]
    public void ATruncatedReferenceIsRefused()
    {
        var png = Path.Combine(dir, "cut.png");
        TempDataset.WritePng(png, 64, 64, SKColors.Red);
        var bytes = File.ReadAllBytes(png);
        File.WriteAllBytes(png, bytes[..(bytes.Length / 2)]);
        Refused(Generate("--reference", png), "--reference", png);
    }

    /// <summary>A PNG signature and an IHDR chunk claiming <paramref name="w"/>x<paramref name="h"/>, and no pixel
    /// data.</summary>
    static byte[] HugeHeaderPng(int w, int h)
    {
        var ihdr = new List<byte>();
        void BigEndian(int v) { ihdr.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]); }
        var data = new List<byte>();
        ihdr.AddRange("IHDR"u8.ToArray());
        BigEndian(w); BigEndian(h);
        ihdr.AddRange([8, 2, 0, 0, 0]);
        uint crc = Crc32(ihdr.ToArray());
        data.AddRange([137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13]);
        data.AddRange(ihdr);
        data.AddRange([(byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc]);
        return data.ToArray();
    }

    static uint Crc32(byte[] bytes)
    {
        uint c = 0xFFFFFFFF;
        foreach (var b in bytes)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    // ---------------------------------------------------------------- 4/5. job files

    string Job(Func<string, string> edit)
    {
        var path = Path.Combine(dir, "job.yaml");
        File.WriteAllText(path, edit(TempDataset.Job(TempDataset.Create(), Path.Combine(dir, "out"), 2)));
        return path;
    }

    [Theory]
    [InlineData("resolution: [32]", "resolution: [100000]", "resolution")]
    [InlineData("caption_ext: txt", "caption_ext: png", "caption_ext")]
    [InlineData("caption_ext: txt", "caption_ext: txt\n          num_repeats: 2147483647", "num_repeats")]
    [InlineData("linear: 4, linear_alpha: 4", "linear: 65536, linear_alpha: 4", "linear")]
    [InlineData("linear: 4, linear_alpha: 4", "linear: 4, linear_alpha: 1e308", "linear_alpha")]
    public void AJobValueBeyondTheLimitsIsRefusedNamingTheKey(string from, string to, string key)
    {
        var job = Job(y => { Assert.Contains(from, y); return y.Replace(from, to); });
        Refused(["train", job], "job.yaml", key);
    }

    [Fact]
    public void ADeeplyNestedYamlIsRefusedInsteadOfOverflowingTheStack()
    {
        var path = Path.Combine(dir, "deep.yaml");
        File.WriteAllText(path, new string('[', 50_000) + new string(']', 50_000));
        Refused(["train", path], "deep.yaml", "nested");
        File.WriteAllText(path, string.Concat(Enumerable.Range(0, 200).Select(i => new string(' ', i) + "a:\n")));
        Refused(["train", path], "deep.yaml", "nested");
    }

    [Fact]
    public void ADeviceAsTheJobFileIsRefusedWithoutReadingIt()
        => Refused(["train", "/dev/zero"], "empty");

    [Fact]
    public void AnOversizedJobFileIsRefused()
    {
        var path = Path.Combine(dir, "big.yaml");
        using (var f = File.Create(path)) f.SetLength(JobConfigReader.MaxJobBytes + 1);
        Refused(["train", path], path, "limit");
    }

    [Fact]
    public async Task CaptionsThatAreAFifoOrALinkToADeviceDoNotHangOrFillMemory()
    {
        TorchRuntime.EnsureLoaded();
        var data = TempDataset.Create(count: 2);
        var images = Directory.GetFiles(data, "*.png").Order().ToList();
        foreach (var txt in Directory.GetFiles(data, "*.txt")) File.Delete(txt);
        File.CreateSymbolicLink(Path.ChangeExtension(images[0], ".txt"), "/dev/zero");
        using (var mk = Process.Start("mkfifo", Path.ChangeExtension(images[1], ".txt"))) mk.WaitForExit();
        var scan = Task.Run(() => DatasetScanner.Scan([new DatasetConfig { FolderPath = data }], 16));
        var result = await scan.WaitAsync(TimeSpan.FromSeconds(20)); // TimeoutException when the scan hangs
        Assert.All(result.Items, i => Assert.Equal("", i.Caption));
    }

    [Fact]
    public async Task AnImageThatIsALinkToADeviceIsSkippedNotRead()
    {
        var data = TempDataset.Create(count: 2);
        File.CreateSymbolicLink(Path.Combine(data, "zero.png"), "/dev/zero");
        var scan = Task.Run(() => DatasetScanner.Scan([new DatasetConfig { FolderPath = data }], 16));
        var result = await scan.WaitAsync(TimeSpan.FromSeconds(20)); // TimeoutException when the scan hangs
        Assert.Contains(result.Problems, p => p.ToString().Contains("zero.png"));
    }
}
