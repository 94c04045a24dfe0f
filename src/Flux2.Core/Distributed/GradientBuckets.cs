using static TorchSharp.torch;

namespace Flux2.Distributed;

/// <summary>
/// Groups tensors, in parameter order, into flat fp32 buckets of at most <see cref="CapBytes"/> (a tensor larger than
/// the cap gets a bucket of its own), so the gradient all-reduce is a few large NCCL calls instead of one per LoRA
/// matrix — the bucketing of PyTorch DDP (25 MB by default there too). Every rank plans the same buckets from the
/// same shapes, which NCCL requires: collectives match across ranks by order and size.
/// </summary>
public sealed class GradientBuckets
{
    public const long DefaultCapBytes = 25L << 20;

    /// <summary>Tensors [<paramref name="First"/>, First + Count) of the list, <paramref name="Elements"/> values in
    /// all.</summary>
    public sealed record Bucket(int First, int Count, long Elements);

    public IReadOnlyList<Bucket> Buckets { get; }
    public long CapBytes { get; }
    readonly long[] sizes;

    public GradientBuckets(IReadOnlyList<long> elementCounts, long capBytes = DefaultCapBytes)
    {
        if (capBytes < sizeof(float)) throw new ArgumentOutOfRangeException(nameof(capBytes),
            "a bucket must hold at least one value");
        CapBytes = capBytes;
        sizes = elementCounts.ToArray();
        long cap = capBytes / sizeof(float);
        var buckets = new List<Bucket>();
        int first = 0;
        long filled = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            if (i > first && filled + sizes[i] > cap)
            {
                buckets.Add(new Bucket(first, i - first, filled));
                first = i; filled = 0;
            }
            filled += sizes[i];
        }
        if (sizes.Length > first) buckets.Add(new Bucket(first, sizes.Length - first, filled));
        Buckets = buckets;
    }

    public static GradientBuckets For(IReadOnlyList<Tensor> tensors, long capBytes = DefaultCapBytes) =>
        new(tensors.Select(t => t.numel()).ToList(), capBytes);

    /// <summary>The bucket's tensors copied into one contiguous fp32 vector on <paramref name="device"/>; a null entry
    /// (a parameter without a gradient) contributes zeros so every rank still sends the same number of
    /// values.</summary>
    public Tensor Flatten(Bucket bucket, IReadOnlyList<Tensor?> tensors, Device device)
    {
        // A fresh buffer, never a view of a gradient: the collective writes into it.
        var flat = zeros(bucket.Elements, ScalarType.Float32, device);
        using var _ = no_grad();
        long offset = 0;
        for (int k = 0; k < bucket.Count; k++)
        {
            int i = bucket.First + k;
            var t = tensors[i];
            if (t is not null && t.numel() != sizes[i])
                throw new ArgumentException($"tensor {i} has {t.numel()} values, the plan {sizes[i]}");
            if (t is not null) flat.narrow(0, offset, sizes[i]).copy_(t.detach().reshape(-1));
            offset += sizes[i];
        }
        return flat;
    }

    /// <summary>Copies a (reduced) flat bucket back into its tensors, in their own dtype; null entries are
    /// skipped.</summary>
    public void Unflatten(Bucket bucket, Tensor flat, IReadOnlyList<Tensor?> tensors)
    {
        if (flat.numel() != bucket.Elements)
            throw new ArgumentException($"flat bucket has {flat.numel()} values, the plan {bucket.Elements}");
        using var _ = no_grad();
        long offset = 0;
        for (int k = 0; k < bucket.Count; k++)
        {
            int i = bucket.First + k;
            var t = tensors[i];
            if (t is not null) t.copy_(flat.narrow(0, offset, sizes[i]).view(t.shape));
            offset += sizes[i];
        }
    }
}
