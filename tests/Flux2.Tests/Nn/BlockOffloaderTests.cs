using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Offload;
using Flux2.Pipeline;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Nn;

/// <summary>Layer offloading on a tiny transformer: the CPU refusal everywhere; on a GPU, the offloaded forward must be
/// bit-identical to the resident one (same kernels on the same bytes) and training without checkpointing must
/// refuse.</summary>
public class BlockOffloaderTests
{
    static Flux2Transformer Tiny(Device device)
    {
        var model = new Flux2Transformer(TransformerConfig.Tiny, device, ScalarType.BFloat16);
        RandomInit.Apply(model, seed: 3);
        return model;
    }

    static Tensor Forward(Flux2Transformer m, Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var c = m.Config;
        var hidden = randn(new long[] { 1, 16, c.InChannels }).to(ScalarType.BFloat16).to(device);
        var context = randn(new long[] { 1, 8, c.JointAttentionDim }).to(ScalarType.BFloat16).to(device);
        var t = full(new long[] { 1 }, 0.5f, ScalarType.BFloat16, device);
        var g = full(new long[] { 1 }, 4.0f, ScalarType.BFloat16, device);
        return m.Forward(hidden, context, t, g, PositionIds.Image(4, 4, device), PositionIds.Text(8, device))
            .MoveToOuterDisposeScope();
    }

    [Fact]
    public void RefusesACpuModelWithAClearError()
    {
        TorchRuntime.EnsureLoaded();
        using var model = Tiny(CPU);
        var e = Assert.Throws<InvalidOperationException>(() => TransformerOffloading.Attach(model, 0.5));
        Assert.Contains("layer offloading needs CUDA", e.Message);
        Assert.Null(model.Runner.Residency);
    }

    [CudaFact]
    public void OffloadedForwardIsBitIdenticalToResident()
    {
        var device = CUDA;
        using var model = Tiny(device);
        using var _ = no_grad();
        using var expected = Forward(model, device);
        using (var offloader = TransformerOffloading.Attach(model, 1.0))
        {
            Assert.Equal(4, offloader.Report.Offloaded.Count);
            for (int i = 0; i < 3; i++)
            {
                using var actual = Forward(model, device);
                Assert.True(actual.eq(expected).all().item<bool>(), $"forward {i} differs with offloading");
            }
        }
        Assert.Null(model.Runner.Residency);
    }

    [CudaFact]
    public void GradientsWithoutCheckpointingAreRefused()
    {
        var device = CUDA;
        using var model = Tiny(device);
        using var offloader = TransformerOffloading.Attach(model, 0.5);
        var e = Assert.Throws<InvalidOperationException>(() => { using var y = Forward(model, device); });
        Assert.Contains("gradient checkpointing", e.Message);
    }
}
