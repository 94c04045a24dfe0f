using Flux2.Data.Synthetic;
using Flux2.Micro.Pretraining;
using Flux2.Models.TextEncoder;
using Xunit;

namespace Flux2.Tests.Micro;

public class TriggerLikeTagTests
{
    [Fact]
    public void TagsAreReproducibleMadeUpWordsThatNeverEqualACaptionWord()
    {
        var corpus = new ShapeCorpus(20261126);
        var vocabulary = Enumerable.Range(0, 5000).SelectMany(i => corpus.PretrainingItem(i).caption
            .Split(' ', ',')).Where(w => w.Length > 0).ToHashSet();
        Assert.Contains("circle", vocabulary);
        var (a, b) = (new Random(7), new Random(7));
        var tags = Enumerable.Range(0, 2000).Select(_ => TriggerLikeTag.Make(a)).ToList();
        Assert.Equal(tags, Enumerable.Range(0, 2000).Select(_ => TriggerLikeTag.Make(b)));
        Assert.True(tags.Distinct().Count() > 1900, "tags repeat too often");
        foreach (var word in tags.SelectMany(t => t.Split('_')))
        {
            Assert.InRange(word.Length, 4, 6);
            Assert.Matches("^([bdfgklmnprstvz][aeiou])+$", word);
            Assert.DoesNotContain(word, vocabulary);
        }
    }

    [Fact]
    public void TheLongestCaptionWithATagStillFitsTheMicroTokenizer()
    {
        var corpus = new ShapeCorpus(20261126);
        var tokenizer = new Gpt2PromptTokenizer();
        var longest = Enumerable.Range(0, 5000).Select(i => corpus.PretrainingItem(i).caption)
            .MaxBy(c => tokenizer.Tokens(c).Length)!;
        var rng = new Random(3);
        int worstTag = Enumerable.Range(0, 2000).Max(_ => tokenizer.Tokens(TriggerLikeTag.Make(rng)).Length - 1);
        Assert.True(tokenizer.Tokens(longest).Length + worstTag <= tokenizer.MaxLength,
            $"'{longest}' ({tokenizer.Tokens(longest).Length} tokens) + a {worstTag}-token tag > " +
            $"{tokenizer.MaxLength}");
    }
}
