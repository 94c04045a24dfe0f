using Flux2.Native;
using Flux2.Nn;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

public class LoraDropoutTests
{
    static LoraAdapter Adapter(double dropout, ulong seed) =>
        new(ones(2, 8), ones(3, 2), 1.0) { Dropout = dropout, DropoutGenerator = new Generator(seed) };

    [Fact]
    public void DropsOnlyWhileGradientsAreRecordedAndReplaysWithTheSameGeneratorState()
    {
        TorchRuntime.EnsureLoaded();
        using var x = ones(4, 8);
        var a = Adapter(0.5, 3);
        using (no_grad())
        {
            using var eval = a.Delta(x);
            Assert.Equal(16f, eval.max().item<float>()); // no dropout: 8 ones summed twice
            Assert.Equal(16f, eval.min().item<float>());
        }
        using var state = a.DropoutGenerator!.get_state();
        using var first = a.Delta(x);
        Assert.True(first.min().item<float>() < 16f || first.max().item<float>() > 16f, "some inputs must be dropped and the rest rescaled");
        a.DropoutGenerator.set_state(state);
        using var replay = a.Delta(x);
        Assert.True(first.eq(replay).all().item<bool>());
    }

    [Fact]
    public void ZeroDropoutLeavesTheAdapterExact()
    {
        TorchRuntime.EnsureLoaded();
        using var x = randn(4, 8);
        var a = Adapter(0, 3);
        using var expected = x.matmul(ones(8, 2)).matmul(ones(2, 3));
        using var got = a.Delta(x);
        Assert.True(got.allclose(expected));
    }
}
