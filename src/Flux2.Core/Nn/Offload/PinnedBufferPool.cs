namespace Flux2.Nn.Offload;

/// <summary>
/// Reusable host buffers for <see cref="CheckpointInputOffloader"/>: a request takes the smallest free buffer that
/// holds it, else a new one — and free buffers too small for that request are released first, so the pool follows the
/// largest inputs seen (image sizes vary with aspect buckets) instead of keeping one set of buffers per input size.
/// </summary>
/// <param name="allocate">a new buffer of exactly that many bytes</param>
/// <param name="release">frees a buffer (called only for buffers no copy uses any more, see
/// <paramref name="beforeRelease"/>)</param>
/// <param name="beforeRelease">waits until no queued copy may touch a free buffer (the copy stream is drained)</param>
public sealed class PinnedBufferPool(Func<long, IntPtr> allocate, Action<IntPtr> release, Action beforeRelease)
{
    readonly List<(IntPtr Buffer, long Capacity)> free = new();   // smallest first
    readonly Dictionary<IntPtr, long> all = new();

    /// <summary>Bytes held, taken and free.</summary>
    public long Bytes { get; private set; }
    public int Count => all.Count;

    public (IntPtr Buffer, long Capacity) Take(long bytes)
    {
        if (bytes <= 0) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "a buffer needs at least one byte");
        int fit = free.FindIndex(b => b.Capacity >= bytes);
        if (fit >= 0)
        {
            var found = free[fit];
            free.RemoveAt(fit);
            return found;
        }
        if (free.Count > 0)
        {
            beforeRelease();
            foreach (var (buffer, capacity) in free) { release(buffer); all.Remove(buffer); Bytes -= capacity; }
            free.Clear();
        }
        var p = allocate(bytes);
        all[p] = bytes;
        Bytes += bytes;
        return (p, bytes);
    }

    public void Give(IntPtr buffer, long capacity)
    {
        if (!all.TryGetValue(buffer, out var known) || known != capacity || free.Any(b => b.Buffer == buffer))
            throw new InvalidOperationException("a buffer given back to the pool was not taken from it");
        int at = free.FindIndex(b => b.Capacity > capacity);
        free.Insert(at < 0 ? free.Count : at, (buffer, capacity));
    }

    /// <summary>Releases every buffer (the caller has made sure no copy uses them).</summary>
    public void ReleaseAll()
    {
        foreach (var buffer in all.Keys) release(buffer);
        all.Clear(); free.Clear(); Bytes = 0;
    }
}
