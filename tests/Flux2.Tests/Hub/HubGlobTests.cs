using Flux2.IO.Hub;
using Xunit;

namespace Flux2.Tests.Hub;

public class HubGlobTests
{
    [Theory]
    [InlineData("vae/config.json", "*.json", true)]          // * crosses folders, as in huggingface_hub's fnmatch
    [InlineData("model_index.json", "*.json", true)]
    [InlineData("transformer/a.safetensors", "transformer/", true)]
    [InlineData("transformer2/a.safetensors", "transformer/", false)]
    [InlineData("text_encoder/model-00001-of-00003.safetensors", "text_encoder/model-0000?-of-*", true)]
    [InlineData("a1.bin", "a[0-9].bin", true)]
    [InlineData("ax.bin", "a[!x].bin", false)]
    [InlineData("flux.safetensors", "*.json", false)]
    [InlineData("a+b.json", "a+b.json", true)]
    public void MatchesLikeFnmatch(string path, string pattern, bool expected) =>
        Assert.Equal(expected, HubGlob.Matches(path, pattern));

    [Fact]
    public void NoPatternsAllowEverything()
    {
        Assert.True(HubGlob.Allows("anything", null));
        Assert.True(HubGlob.Allows("anything", Array.Empty<string>()));
        Assert.False(HubGlob.Allows("a.bin", new[] { "*.json", "*.txt" }));
    }
}
