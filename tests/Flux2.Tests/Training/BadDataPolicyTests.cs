using Flux2.Training.Config;
using Flux2.Training.Data;
using SkiaSharp;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>Corrupt, unreadable, empty, oversized and caption-less files: per-file messages, a summary, skip vs
/// fail.</summary>
public class BadDataPolicyTests
{
    /// <summary>A dataset of two good images plus one bad file made by <paramref name="kind"/>.</summary>
    static string DatasetWith(string kind)
    {
        var dir = TempDataset.Create(count: 2);
        var bad = Path.Combine(dir, "bad.png");
        switch (kind)
        {
            case "corrupt": File.WriteAllText(bad, "not an image"); break;
            case "empty": File.WriteAllBytes(bad, Array.Empty<byte>()); break;
            case "truncated":
                TempDataset.WritePng(bad, 64, 64, SKColors.Red);
                var bytes = File.ReadAllBytes(bad);
                File.WriteAllBytes(bad, bytes[..(bytes.Length / 2)]);
                break;
            case "oversized": WriteHugePng(bad, 8000, 5100); break; // 40.8 MP
            case "tiny": TempDataset.WritePng(bad, 8, 8, SKColors.Red); break;
            case "no caption": TempDataset.WritePng(bad, 32, 32, SKColors.Red); return dir;
        }
        File.WriteAllText(Path.ChangeExtension(bad, ".txt"), "a bad card");
        return dir;
    }

    /// <summary>A large but cheap PNG (one colour compresses to almost nothing).</summary>
    static void WriteHugePng(string path, int w, int h)
    {
        using var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Gray8));
        bmp.Erase(SKColors.Gray);
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 0);
        using var f = File.Create(path);
        data.SaveTo(f);
    }

    [Theory]
    [InlineData("corrupt", true, "not a readable image")]
    [InlineData("empty", true, "empty file (0 bytes)")]
    [InlineData("truncated", true, "corrupt or truncated")]
    [InlineData("oversized", true, "over the 40-megapixel limit")]
    [InlineData("tiny", true, "smaller than the model's 16-pixel grid")]
    [InlineData("no caption", false, "no caption file bad.txt and no default_caption")]
    public void EachBadFileGetsItsOwnMessageAndSkipKeepsTheRest(string kind, bool skipped, string reason)
    {
        var dir = DatasetWith(kind);
        var scan = DatasetScanner.Scan(new[] { new DatasetConfig { FolderPath = dir, Resolution = new() { 32 } } }, 16);
        var problem = Assert.Single(scan.Problems);
        Assert.EndsWith("bad.png", problem.Path);
        Assert.Equal(skipped, problem.Skipped);
        Assert.Contains(reason, problem.Message);
        Assert.Equal(skipped ? 2 : 3, scan.ImageCount);
        Assert.Contains(skipped ? "1 skipped, 0 notes" : "0 skipped, 1 notes", scan.Summary());
    }

    [Theory]
    [InlineData("corrupt")]
    [InlineData("empty")]
    [InlineData("oversized")]
    [InlineData("no caption")]
    public void OnErrorFailStopsBeforeTrainingWithTheList(string kind)
    {
        var dir = DatasetWith(kind);
        var config = new DatasetConfig { FolderPath = dir, Resolution = new() { 32 }, OnError = DataErrorPolicy.Fail };
        var e = Assert.Throws<InvalidDataException>(() => DatasetScanner.Scan(new[] { config }, 16));
        Assert.Contains("on_error: fail", e.Message);
        Assert.Contains("bad.png", e.Message);
    }

    [Fact]
    public void OnErrorIsReadFromYamlAndDefaultsToSkip()
    {
        Assert.Equal(DataErrorPolicy.Skip, new DatasetConfig().OnError);
        var loaded = JobConfigReader.Parse("""
            job: extension
            config:
              name: x
              process:
                - datasets:
                    - folder_path: d
                      on_error: fail
                      control_path: c
            """);
        Assert.Equal(DataErrorPolicy.Fail, loaded.Job.Process.Datasets[0].OnError);
        Assert.Equal(new[] { "c" }, loaded.Job.Process.Datasets[0].ControlPaths);
        Assert.Empty(loaded.Warnings);
    }
}
