namespace Flux2.Training.Data;

/// <summary>One training sample: an image at one bucket size and flip (ai-toolkit adds flipped copies and one copy per
/// resolution rather than augmenting randomly, §2.7), with its raw caption (placeholders not yet substituted).</summary>
public sealed record DatasetItem(string ImagePath, string Caption, int Width, int Height, bool FlipX, bool FlipY, int DatasetIndex)
{
    public string BucketKey => $"{Width}x{Height}";
}

/// <summary>A file the scan could not use as given, and what was done about it.</summary>
public sealed record DatasetProblem(string Path, string Message, bool Skipped)
{
    public override string ToString() => $"{(Skipped ? "skipped" : "note")}: {Path}: {Message}";
}

/// <summary>What a scan found: items (repeats expanded), per-file problems and a one-line summary.</summary>
public sealed record DatasetScan(IReadOnlyList<DatasetItem> Items, IReadOnlyList<DatasetProblem> Problems, int ImageCount)
{
    public string Summary()
    {
        int skipped = Problems.Count(p => p.Skipped), notes = Problems.Count - skipped;
        var buckets = Items.GroupBy(i => i.BucketKey).Select(g => $"{g.Key}×{g.Count()}");
        return $"{ImageCount} images usable, {skipped} skipped, {notes} notes; {Items.Count} samples per epoch in buckets {string.Join(", ", buckets)}";
    }
}
