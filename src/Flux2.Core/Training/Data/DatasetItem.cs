namespace Flux2.Training.Data;

/// <summary>One training sample: an image at one bucket size and flip (ai-toolkit adds flipped copies and one copy per
/// resolution rather than augmenting randomly, docs/ai-toolkit-compat.md §2.7), with its raw caption (placeholders not
/// yet substituted) and, for edit datasets, its control images (same bucket and flip as the target, so the pair stays
/// aligned).</summary>
public sealed record DatasetItem(string ImagePath, string Caption, int Width, int Height, bool FlipX, bool FlipY,
                                 int DatasetIndex, IReadOnlyList<string>? ControlPaths = null)
{
    public IReadOnlyList<string> Controls => ControlPaths ?? Array.Empty<string>();

    /// <summary>Batches never mix sizes, nor items with different numbers of reference images (their token counts
    /// differ).</summary>
    public string BucketKey => Controls.Count == 0 ? $"{Width}x{Height}" : $"{Width}x{Height}+{Controls.Count}ctl";

    /// <summary>The k-th control image as an item of its own, for the latent cache.</summary>
    public DatasetItem Control(int k) => this with { ImagePath = Controls[k], ControlPaths = null };
}

/// <summary>A file the scan could not use as given, and what was done about it.</summary>
public sealed record DatasetProblem(string Path, string Message, bool Skipped, int DatasetIndex = -1)
{
    public override string ToString() => $"{(Skipped ? "skipped" : "note")}: {Path}: {Message}";
}

/// <summary>What a scan found: items (repeats expanded), per-file problems and a one-line summary.</summary>
public sealed record DatasetScan(IReadOnlyList<DatasetItem> Items, IReadOnlyList<DatasetProblem> Problems,
    int ImageCount)
{
    public string Summary()
    {
        int skipped = Problems.Count(p => p.Skipped), notes = Problems.Count - skipped;
        var buckets = Items.GroupBy(i => i.BucketKey).Select(g => $"{g.Key}×{g.Count()}");
        return $"{ImageCount} images usable, {skipped} skipped, {notes} notes; {Items.Count} samples per epoch in " +
            $"buckets {string.Join(", ", buckets)}";
    }
}
