using Flux2.Native;
using Flux2.Nn;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Training;

public class LoraDropoutTests
{
    static LoraAdapter Adapter(double dropout, ulong seed) =>
        new(ones(2, 8), ones(3, 2), 1.0) { Dropout = dropout, DropoutGenerator = new Generator(seed) };

    /// <summary>The adapter's update alone: added in place to a zero output.</summary>
    static Tensor Delta(LoraAdapter a, Tensor x)
    {
        var y = zeros(x.shape[0], a.Up.shape[0]);
        a.AddTo(y, x);
        return y;
    }

    [Fact]
    public void DropsOnlyWhileGradientsAreRecordedAndReplaysWithTheSameGeneratorState()
    {
        TorchRuntime.EnsureLoaded();
        using var x = ones(4, 8);
        var a = Adapter(0.5, 3);
        using (no_grad())
        {
            using var eval = Delta(a, x);
            Assert.Equal(16f, eval.max().item<float>()); // no dropout: 8 ones summed twice
            Assert.Equal(16f, eval.min().item<float>());
        }
        using var state = a.DropoutGenerator!.get_state();
        using var first = Delta(a, x);
        Assert.True(first.min().item<float>() < 16f || first.max().item<float>() > 16f,
            "some inputs must be dropped and the rest rescaled");
        a.DropoutGenerator.set_state(state);
        using var replay = Delta(a, x);
        Assert.True(first.eq(replay).all().item<bool>());
    }

    [Fact]
    public void ZeroDropoutLeavesTheAdapterExact()
    {
        TorchRuntime.EnsureLoaded();
        // Its own generator: the global one is shared with test classes running in parallel, and a draw whose row sums
        // come out near zero leaves the fused GEMM and the two matmuls apart by more than allclose's absolute 1e-8.
        using var x = randn(new long[] { 4, 8 }, generator: new Generator(21));
        var a = Adapter(0, 3);
        using var expected = x.matmul(ones(8, 2)).matmul(ones(2, 3));
        using var got = Delta(a, x);
        Assert.True(got.allclose(expected));
    }

    /// <summary>The fused update (one GEMM with beta = 1) adds Scale · B A x to what the base layer produced, for a
    /// batched [B, T, in] input too.</summary>
    [Fact]
    public void TheUpdateIsAddedScaledToTheBaseOutput()
    {
        TorchRuntime.EnsureLoaded();
        using var x = randn(2, 5, 8);
        using var down = randn(3, 8);
        using var up = randn(6, 3);
        var a = new LoraAdapter(down, up, 0.25);
        using var baseOut = randn(2, 5, 6);
        using var y = baseOut.clone();
        a.AddTo(y, x);
        using var expected = baseOut + 0.25 * x.matmul(down.t()).matmul(up.t());
        Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5));
    }
}
