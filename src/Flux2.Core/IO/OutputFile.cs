namespace Flux2.IO;

/// <summary>Checks, before any work, that a file the user named as an output can be written; and turns a failure to
/// write it into a <see cref="UserError"/> naming that file (not the hidden temp file written first).</summary>
public static class OutputFile
{
    /// <summary>Refuses (<see cref="UserError"/>, naming <paramref name="what"/>, e.g. <c>generate --out</c>) a
    /// path that is a folder, whose folder cannot be created, or where no file can be created. An existing file is
    /// fine: it is replaced atomically when the new one is complete.</summary>
    public static void Check(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UserError($"{what}: the output path is empty");
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UserError($"{what} {path}: not a valid path ({e.Message})");
        }
        if (Directory.Exists(full) || path.EndsWith('/'))
            throw new UserError($"{what} {path} is a folder: give a file path");
        var dir = Path.GetDirectoryName(full)!;
        if (File.Exists(dir)) throw new UserError($"{what} {path}: {dir} is a file, not a folder");
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{what} {path}: cannot create the folder {dir} ({e.Message})");
        }
        var probe = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try { using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write)) { } }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{what} {path}: cannot write in {dir} ({Plain(e, probe, path)})");
        }
        finally { try { File.Delete(probe); } catch (IOException) { } catch (UnauthorizedAccessException) { } }
    }

    /// <summary>A write error of <paramref name="path"/> that names <paramref name="path"/> rather than
    /// <paramref name="temp"/>.</summary>
    public static OutputWriteException WriteFailed(string path, string temp, Exception e)
        => new($"cannot write {path}: {Plain(e, temp, path)}", e);

    static string Plain(Exception e, string temp, string path)
        => e.Message.Replace(Path.GetFullPath(temp), path).Replace(Path.GetFileName(temp), Path.GetFileName(path));
}

/// <summary>An output file could not be written (a folder in the way, no permission, a full disk): an input or
/// environment problem, reported in one line naming the file.</summary>
public sealed class OutputWriteException(string message, Exception inner) : IOException(message, inner);
