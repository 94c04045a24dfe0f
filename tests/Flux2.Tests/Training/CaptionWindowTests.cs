using Flux2.Models.TextEncoder;
using Flux2.Native;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.Data;
using Xunit;

namespace Flux2.Tests.Training;

/// <summary>Captions longer than the text encoder's token window: the words they lose, and the trainer's
/// warning.</summary>
[Collection(TorchGlobalRngCollection.Name)]
public class CaptionWindowTests
{
    static readonly Gpt2PromptTokenizer Micro = new();

    [Fact]
    public void A_caption_that_fits_has_no_overflow()
        => Assert.Null(CaptionWindow.Check("a.png", "midnight_tarot a red circle in the center", Micro));

    [Fact]
    public void The_lost_words_are_exactly_those_past_the_window()
    {
        const string caption = "midnight_tarot two small yellow stars at the top left and a large red circle in the " +
            "center on a striped green background, inside a thin double gold frame with gold outlines";
        var o = CaptionWindow.Check("a.png", caption, Micro);
        Assert.NotNull(o);
        Assert.Equal(Micro.Tokens(caption).Length, o!.Tokens);
        Assert.True(o.Tokens > Micro.MaxLength);
        Assert.EndsWith(o.Lost, caption);
        Assert.Contains("frame", o.Lost);
        var kept = caption[..^o.Lost.Length].TrimEnd();
        var firstLost = o.Lost.Split(' ')[0];
        Assert.True(Micro.Tokens(kept).Length <= Micro.MaxLength);
        Assert.True(Micro.Tokens(kept + " " + firstLost).Length > Micro.MaxLength);
    }

    [Fact]
    public void The_warning_counts_names_examples_and_says_the_fix()
    {
        Assert.Null(CaptionWindow.Warning([], 10, 32));
        var many = Enumerable.Range(0, 5)
            .Select(i => new CaptionWindow.Overflow($"/d/img{i}.png", "c", 40, "gold frame")).ToList();
        var w = CaptionWindow.Warning(many, 24, 32)!;
        Assert.Contains("5 of 24 captions", w);
        Assert.Contains("32-token window", w);
        Assert.Contains("img0.png (40 tokens) loses \"gold frame\"", w);
        Assert.DoesNotContain("img3.png", w);
        Assert.Contains("and 2 more", w);
        Assert.Contains("Shorten", w);
    }

    [Fact]
    public void Training_warns_about_captions_past_the_window()
    {
        TorchRuntime.EnsureLoaded();
        // FLUX.2-micro's window is 32 tokens; the other three captions fit.
        var longCaption = "a [trigger] square " + string.Join(' ', Enumerable.Repeat("with many more words", 10));
        var data = TempDataset.Create(caption: i => i == 1 ? longCaption : $"a [trigger] square {i}");
        var yaml = TempDataset.Job(data, TestPaths.TempDir(), 1, "disable_sampling: true");
        Assert.Contains("name_or_path: tiny-random", yaml);
        var loaded = JobConfigReader.Parse(yaml.Replace("name_or_path: tiny-random", "name_or_path: flux2-micro"),
            "micro.yaml");
        var log = new List<string>();
        TrainingRun.Run(loaded, new TrainerCallbacks { OnMessage = log.Add });
        var warning = Assert.Single(log, l => l.Contains("token window"));
        Assert.Contains("1 of 4 captions", warning);
        Assert.Contains("img1.png", warning);
        Assert.Contains("\"more words with many more words", warning);
    }
}
