namespace Flux2.Training.Data;

/// <summary>
/// Resuming with another global batch size (a different GPU count, since the global batch is train.batch_size ×
/// ranks): the saved <see cref="BatchOrder.Position"/> holds the rest of the epoch as batches of the old size. This
/// cuts the same sample stream into batches of the new size — in order, never mixing buckets (each bucket's items
/// queue up until a batch is full), and a bucket's leftover at the end of the epoch padded with its own items, as
/// <see cref="BatchOrder"/> pads. When the old size is a multiple of the new one, batches come out in exactly the old
/// order; samples are never dropped.
/// </summary>
public static class BatchRegrouping
{
    public static BatchOrder.Position Regroup(BatchOrder.Position saved, IReadOnlyList<DatasetItem> items,
        int batchSize)
    {
        if (saved.Pending is null || saved.Pending.Any(b => b is null || b.Any(i => i < 0 || i >= items.Count)))
            throw new InvalidDataException($"saved data order does not fit this dataset ({items.Count} items): an " +
                                           "index is out of range");
        return Regroup(saved, i => items[i].BucketKey, batchSize);
    }

    public static BatchOrder.Position Regroup(BatchOrder.Position saved, Func<int, string> bucketOf, int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        if (saved.Pending.All(b => b.Length == batchSize)) return saved;
        var open = new Dictionary<string, List<int>>();
        var order = new List<string>(); // buckets in order of first appearance, for the padded leftovers
        var batches = new List<int[]>();
        foreach (var index in saved.Pending.SelectMany(b => b))
        {
            var key = bucketOf(index);
            if (!open.TryGetValue(key, out var queue)) { open[key] = queue = new List<int>(); order.Add(key); }
            queue.Add(index);
            if (queue.Count == batchSize) { batches.Add(queue.ToArray()); queue.Clear(); }
        }
        foreach (var key in order)
        {
            var rest = open[key];
            if (rest.Count == 0) continue;
            batches.Add(Enumerable.Range(0, batchSize).Select(k => rest[k % rest.Count]).ToArray());
        }
        return new BatchOrder.Position(saved.Epoch, batches.ToArray());
    }
}
