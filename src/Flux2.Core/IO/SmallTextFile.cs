namespace Flux2.IO;

/// <summary>Reads a small UTF-8 text file (a job YAML, a caption) without trusting it: at most its stat size and never
/// more than a limit, so a symlink to <c>/dev/zero</c> cannot fill memory, and devices and FIFOs (which report size 0
/// and may block on open or never end) are not opened at all.</summary>
public static class SmallTextFile
{
    /// <summary>The text of <paramref name="path"/>; "" for an empty file and for anything that is not a regular
    /// file. <see cref="UserError"/> naming <paramref name="what"/> when it is larger than
    /// <paramref name="maxBytes"/>.</summary>
    public static string Read(string path, long maxBytes, string what)
    {
        var target = StatTarget(path);
        if (!target.Exists) throw new FileNotFoundException($"{what} not found: {path}", path);
        long length = target.Length;
        if (length == 0) return "";
        if (length > maxBytes)
            throw new UserError($"{path}: {length} bytes, over the {maxBytes}-byte limit for {what}");
        var bytes = new byte[length];
        int read = 0;
        using (var s = new FileStream(target.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            while (read < bytes.Length && s.Read(bytes, read, bytes.Length - read) is var n and > 0) read += n;
        return new System.Text.UTF8Encoding(false).GetString(bytes, 0, read).TrimStart('\uFEFF');
    }

    /// <summary>The file a path finally names (symlinks followed): its length is that file's, not the link's.</summary>
    public static FileInfo StatTarget(string path)
    {
        var info = new FileInfo(path);
        try
        {
            return info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
        }
        catch (IOException) { return info; }
    }
}
