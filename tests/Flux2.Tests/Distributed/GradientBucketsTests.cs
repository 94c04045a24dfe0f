using System.Runtime.InteropServices;
using Flux2.Distributed;
using Flux2.Native;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Distributed;

public class GradientBucketsTests
{
    public GradientBucketsTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void BucketsFillUpToTheCapInOrderAndOversizedTensorsStandAlone()
    {
        // cap 100 bytes = 25 floats
        var plan = new GradientBuckets(new long[] { 10, 10, 10, 40, 5, 5, 24, 1 }, capBytes: 100);
        Assert.Equal(new[] { (0, 2, 20L), (2, 1, 10L), (3, 1, 40L), (4, 2, 10L), (6, 2, 25L) },
                     plan.Buckets.Select(b => (b.First, b.Count, b.Elements)));
        Assert.Equal(105L, plan.Buckets.Sum(b => b.Elements));
        Assert.Single(new GradientBuckets(new long[] { 3, 4, 5 }).Buckets); // 25 MB default holds a small LoRA in one
        Assert.Empty(new GradientBuckets(Array.Empty<long>()).Buckets);
    }

    [Fact]
    public void FlattenThenUnflattenRestoresEveryTensor()
    {
        var tensors = new List<Tensor?> { randn(3, 4), randn(5), null, randn(2, 2, 2).to(ScalarType.BFloat16) };
        var originals = tensors.Select(t => t?.clone()).ToList();
        var sizes = new long[] { 12, 5, 7, 8 };
        var plan = new GradientBuckets(sizes, capBytes: 16 * sizeof(float));
        var flats = plan.Buckets.Select(b => plan.Flatten(b, tensors, CPU)).ToList();
        Assert.All(flats, f => Assert.Equal(ScalarType.Float32, f.dtype));
        Assert.Equal(sizes.Sum(), flats.Sum(f => f.numel()));
        // the missing gradient (null) travels as zeros
        var third = plan.Buckets.Single(b => b.First <= 2 && 2 < b.First + b.Count);
        var flat3 = flats[plan.Buckets.ToList().IndexOf(third)];
        long offset = sizes.Take(2).Sum() - sizes.Take(third.First).Sum();
        Assert.Equal(0f, flat3.narrow(0, offset, 7).abs().sum().item<float>());

        foreach (var t in tensors) t?.zero_();
        for (int i = 0; i < flats.Count; i++) plan.Unflatten(plan.Buckets[i], flats[i] * 2, tensors);
        for (int i = 0; i < tensors.Count; i++)
            if (tensors[i] is { } t) Assert.True(t.to(ScalarType.Float32)
                .allclose((originals[i]! * 2).to(ScalarType.Float32)), $"tensor {i}");
    }

    [Fact]
    public void FlattenRejectsATensorOfTheWrongSize()
    {
        var plan = new GradientBuckets(new long[] { 4 });
        Assert.Throws<ArgumentException>(() => plan.Flatten(plan.Buckets[0], new Tensor?[] { zeros(5) }, CPU));
    }

    [Fact]
    public void TensorPointerAddressesTheFirstElementEvenAtAnOffset()
    {
        using var t = arange(10, ScalarType.Float32);
        using var view = t.narrow(0, 3, 4);
        var values = new float[4];
        Marshal.Copy(Flux2.Native.TensorPointer.Of(view), values, 0, 4);
        Assert.Equal(new[] { 3f, 4f, 5f, 6f }, values);
    }
}
