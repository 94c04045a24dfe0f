using Flux2.Training.Config;
using SkiaSharp;

namespace Flux2.Training.Data;

/// <summary>
/// Finds a dataset's images and captions (ai-toolkit layout: <c>image.png</c> + <c>image.txt</c>, §2.6 for the caption
/// fallbacks) and expands them into training samples: one per listed resolution × flips × num_repeats. Unreadable or
/// too-small images are skipped with a per-file message instead of stopping the run.
/// </summary>
public static class DatasetScanner
{
    public static readonly string[] ImageExtensions = { ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif" };

    public static DatasetScan Scan(IReadOnlyList<DatasetConfig> datasets, int pixelMultiple)
    {
        var items = new List<DatasetItem>();
        var problems = new List<DatasetProblem>();
        int images = 0;
        for (int di = 0; di < datasets.Count; di++)
        {
            var d = datasets[di];
            if (!Directory.Exists(d.FolderPath)) throw new DirectoryNotFoundException($"dataset folder not found: {d.FolderPath}");
            var ext = d.CaptionExt.StartsWith('.') ? d.CaptionExt : "." + d.CaptionExt;
            var files = Directory.EnumerateFiles(d.FolderPath)
                .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) problems.Add(new DatasetProblem(d.FolderPath, $"no images ({string.Join(" ", ImageExtensions)})", Skipped: true));
            foreach (var file in files)
            {
                var size = ReadSize(file, out var why);
                if (size is null) { problems.Add(new DatasetProblem(file, why!, Skipped: true)); continue; }
                var (w, h) = size.Value;
                if (w < pixelMultiple || h < pixelMultiple)
                {
                    problems.Add(new DatasetProblem(file, $"{w}x{h} is smaller than the model's {pixelMultiple}-pixel grid", Skipped: true));
                    continue;
                }
                var caption = ReadCaption(file, ext, d, problems);
                images++;
                foreach (var resolution in d.Resolution)
                {
                    var (bw, bh) = d.Buckets ? BucketResolver.BucketFor(w, h, resolution, pixelMultiple) : BucketResolver.Square(resolution, pixelMultiple);
                    var flips = new List<(bool x, bool y)> { (false, false) };
                    if (d.FlipX) flips.Add((true, false));
                    if (d.FlipY) flips.AddRange(flips.ToList().Select(f => (f.x, true)));
                    foreach (var (fx, fy) in flips)
                        for (int r = 0; r < d.NumRepeats; r++)
                            items.Add(new DatasetItem(file, caption, bw, bh, fx, fy, di));
                }
            }
        }
        var scan = new DatasetScan(items, problems, images);
        if (items.Count == 0)
            throw new InvalidDataException($"no usable training images in {string.Join(", ", datasets.Select(d => d.FolderPath))}:\n  "
                                           + string.Join("\n  ", problems));
        return scan;
    }

    static (int w, int h)? ReadSize(string file, out string? why)
    {
        why = null;
        try
        {
            // A full decode (not just the header) so truncated files are caught here, not mid-run.
            using var bmp = SKBitmap.Decode(file);
            if (bmp is null) { why = "not a readable image (corrupt, empty or an unsupported format)"; return null; }
            return (bmp.Width, bmp.Height);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            why = $"cannot be read: {e.Message}";
            return null;
        }
    }

    /// <summary>Caption file, else <c>default.&lt;ext&gt;</c> in the folder, else default_caption (§2.6 item 1).</summary>
    static string ReadCaption(string image, string ext, DatasetConfig d, List<DatasetProblem> problems)
    {
        var path = Path.ChangeExtension(image, ext);
        if (File.Exists(path)) return File.ReadAllText(path).Trim();
        var fallback = Path.Combine(Path.GetDirectoryName(image)!, "default" + ext);
        if (File.Exists(fallback))
        {
            problems.Add(new DatasetProblem(image, $"no caption file {Path.GetFileName(path)}; using {Path.GetFileName(fallback)}", Skipped: false));
            return File.ReadAllText(fallback).Trim();
        }
        problems.Add(new DatasetProblem(image, $"no caption file {Path.GetFileName(path)}; using default_caption '{d.DefaultCaption}'", Skipped: false));
        return d.DefaultCaption;
    }
}
