namespace Flux2.Data.Synthetic;

/// <summary>Writes generated pairs in ai-toolkit's folder layout (<c>name.png</c> + <c>name.txt</c>). Each file is
/// written to a temporary name and renamed, so an interrupted run never leaves a truncated PNG that a trainer
/// would later choke on.</summary>
public static class DatasetFolderWriter
{
    /// <summary>Writes items 0..count-1 and returns the image paths.</summary>
    public static IReadOnlyList<string> Write(SampleDatasetKind kind, string folder, int count, int seed, int size,
        Action<int>? progress = null)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"count must be at least 1, got {count}");
        if (size < 32 || size % 16 != 0) throw new ArgumentOutOfRangeException(nameof(size),
            $"size must be a multiple of 16 and at least 32 (FLUX.2 patches), got {size}");
        Directory.CreateDirectory(folder);
        var prefix = SampleDatasets.Defaults(kind).filePrefix;
        int digits = Math.Max(3, (count - 1).ToString().Length);
        var written = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            using var item = SampleDatasets.Item(kind, seed, i, size);
            var stem = Path.Combine(folder, $"{prefix}_{i.ToString().PadLeft(digits, '0')}");
            WriteAtomically(stem + ".png", RgbaBitmaps.EncodePng(item.Image));
            WriteAtomically(stem + ".txt", System.Text.Encoding.UTF8.GetBytes(item.Caption));
            written.Add(stem + ".png");
            progress?.Invoke(i + 1);
        }
        return written;
    }

    public static void WriteAtomically(string path, byte[] bytes)
    {
        var full = Path.GetFullPath(path);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".tmp");
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, full, overwrite: true);
    }
}
