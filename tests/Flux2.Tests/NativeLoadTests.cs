using Flux2.Native;
using TorchSharp;
using Xunit;

namespace Flux2.Tests;

public class NativeLoadTests
{
    [Fact]
    public void TorchSharpLoadsAndComputes()
    {
        TorchRuntime.EnsureLoaded();
        using var t = torch.arange(4, dtype: torch.ScalarType.Float32);
        Assert.Equal(6f, t.sum().item<float>());
    }

    /// <summary>The CUDA allocator default (expandable segments) reaches the native environment libtorch reads, and a
    /// user's own setting is kept.</summary>
    [Fact]
    public void AllocatorSettingDefaultsToExpandableSegmentsUnlessTheUserChose()
    {
        var user = Environment.GetEnvironmentVariable(TorchRuntime.AllocatorConfEnv);
        // .NET's copy: the process start's
        Assert.Equal(user ?? TorchRuntime.DefaultAllocatorConf, TorchRuntime.AllocatorConf);
    }

    [Fact]
    public void LoadedBridgeHasNoStrongGlibcxx332Requirement()
    {
        TorchRuntime.EnsureLoaded();
        var dir = Path.GetDirectoryName(typeof(torch).Assembly.Location)!;
        var bridge = Path.Combine(dir, "libLibTorchSharp.so");
        Assert.True(File.Exists(bridge));
        if (!GlibcxxWeakVersionPatch.SystemLibStdCxxHas())
            Assert.False(GlibcxxWeakVersionPatch.NeedsPatch(bridge));
    }

    [Fact]
    public void PatchMarksRequirementWeakOnAFreshCopy()
    {
        var pkg = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages",
                               "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(pkg)) return; // package cache elsewhere (NUGET_PACKAGES); covered by the loaded-copy test
        var copy = Path.Combine(TestPaths.TempDir(), "libLibTorchSharp.so");
        File.Copy(pkg, copy);
        if (!GlibcxxWeakVersionPatch.NeedsPatch(copy)) return; // already patched in the cache by an earlier kernel run
        Assert.True(GlibcxxWeakVersionPatch.Apply(copy));
        Assert.False(GlibcxxWeakVersionPatch.NeedsPatch(copy));
        Assert.False(GlibcxxWeakVersionPatch.Apply(copy)); // idempotent
        Assert.Equal(new FileInfo(pkg).Length, new FileInfo(copy).Length);
    }
}
