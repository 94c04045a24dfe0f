namespace Flux2.Training.Data;

/// <summary>
/// Epoch order of batches (docs/ai-toolkit-compat.md §2.7): items grouped by bucket (a batch never mixes sizes),
/// shuffled within each bucket, cut into batches, a short last batch padded by repeating its own items, then the batch
/// order shuffled. Driven by one <see cref="Random"/> so a seed fixes the whole data order. <see cref="Cursor"/> is the
/// position within the current epoch (its remaining batches), saved for exact resume.
/// </summary>
public sealed class BatchOrder(IReadOnlyList<DatasetItem> items, int batchSize, Random rng)
{
    readonly Queue<int[]> pending = new();
    public int Epoch { get; private set; }

    /// <summary>The epoch number and the batches still to come in it.</summary>
    public sealed record Position(int Epoch, int[][] Pending);

    public Position Cursor
    {
        get => new(Epoch, pending.ToArray());
        set
        {
            if (value.Pending.SelectMany(b => b).Any(i => i < 0 || i >= items.Count)
                || value.Pending.Any(b => b.Length != batchSize))
                throw new InvalidDataException($"saved data order does not fit this dataset ({items.Count} items, " +
                    $"batch size {batchSize})");
            pending.Clear();
            foreach (var b in value.Pending) pending.Enqueue(b);
            Epoch = value.Epoch;
        }
    }

    public int[] Next()
    {
        if (pending.Count == 0) { Refill(); Epoch++; }
        return pending.Dequeue();
    }

    void Refill()
    {
        var batches = new List<int[]>();
        foreach (var bucket in Enumerable.Range(0, items.Count).GroupBy(i => items[i].BucketKey)
            .OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var idx = bucket.ToArray();
            rng.Shuffle(idx);
            for (int s = 0; s < idx.Length; s += batchSize)
            {
                var batch = new int[batchSize];
                for (int k = 0; k < batchSize; k++) batch[k] = idx[s + (s + k < idx.Length ? k : k % (idx.Length - s))];
                batches.Add(batch);
            }
        }
        var order = batches.ToArray();
        rng.Shuffle(order);
        foreach (var b in order) pending.Enqueue(b);
    }
}
