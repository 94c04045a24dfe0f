using System.Runtime.InteropServices;
using Flux2.Distributed;
using Flux2.Native;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Distributed;

/// <summary>A fact that needs CUDA and NCCL: skipped, with the reason, on machines without them (CPU CI).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        TorchRuntime.EnsureLoaded();
        if (!cuda.is_available())
            Skip = $"needs a CUDA GPU and NCCL: this libtorch ({TorchRuntime.LibTorchSource}) sees no CUDA device; " +
                   "the 2-GPU checks are scripts/gpu/multi-gpu-acceptance.sh";
    }
}

public class NcclTests
{
    [Fact]
    public void TheConfigStructHasNccl214sLayout()
    {
        // size_t size; unsigned magic, version; int blocking, cgaClusterSize, minCTAs, maxCTAs; const char* netName
        Assert.Equal(40, Marshal.SizeOf<Nccl.Config>());
        var c = Nccl.Config.NonBlocking();
        Assert.Equal(0, c.Blocking);
        Assert.Equal(0xcafebeefu, c.Magic);
        Assert.Equal(21400u, c.Version);
        Assert.Equal(int.MinValue, c.MinCTAs);
    }

    [Fact]
    public void AMissingLibraryIsReportedWithWhatToDo()
    {
        if (cuda.is_available()) return; // a GPU machine has loaded the real one; this is about machines without it
        var before = Environment.GetEnvironmentVariable(Nccl.LibEnv);
        Environment.SetEnvironmentVariable(Nccl.LibEnv, "/nonexistent/libnccl.so.2");
        try
        {
            var e = Assert.Throws<TorchLoadException>(Nccl.EnsureLoaded);
            Assert.Contains("/nonexistent/libnccl.so.2", e.Message);
            Assert.Contains(Nccl.LibEnv, e.Message);
        }
        finally { Environment.SetEnvironmentVariable(Nccl.LibEnv, before); }
    }

    [CudaFact]
    public void AOneRankCommunicatorAveragesAndBroadcastsOnTheGpu()
    {
        CudaRuntime.SetDevice(0);
        var deadline = new CollectiveDeadline(TimeSpan.FromSeconds(60));
        using var nccl = NcclCollectives.Create(0, 1, NcclCollectives.NewUniqueId(), deadline);
        using var a = arange(1000, ScalarType.Float32, device: CUDA);
        using var expected = a.clone();
        nccl.AllReduceMean(new[] { a, a.narrow(0, 0, 10).contiguous() });
        Assert.True(a.eq(expected).all().item<bool>());
        nccl.Broadcast(new[] { a });
        Assert.True(a.eq(expected).all().item<bool>());
        Assert.Null(nccl.AsyncError());
    }
}
