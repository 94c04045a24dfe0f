using Microsoft.DotNet.Interactive.Formatting;

namespace Flux2.Interactive.Display;

/// <summary>A PNG image as a notebook output (image/png).</summary>
public sealed record PngImage(byte[] Bytes, int Width, int Height)
{
    public string Base64 => Convert.ToBase64String(Bytes);
    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, Bytes);
    }
    public static PngImage FromFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        using var codec = SkiaSharp.SKCodec.Create(new MemoryStream(bytes))
            ?? throw new InvalidDataException($"{path}: not an image");
        return new PngImage(bytes, codec.Info.Width, codec.Info.Height);
    }
}

/// <summary>Raw HTML as a notebook output (text/html), written as-is.</summary>
public sealed record HtmlFragment(string Html);

/// <summary>Registers the kernel formatters for <see cref="PngImage"/> and <see cref="HtmlFragment"/>, so that
/// displays of them — and in-place updates of those displays — carry image/png and raw text/html.</summary>
static class Formatters
{
    static int registered;

    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref registered, 1) == 1) return;
        Formatter.Register<PngImage>((png, writer) => writer.Write(png.Base64), "image/png");
        Formatter.Register<HtmlFragment>((h, writer) => writer.Write(h.Html), "text/html");
        Formatter.SetPreferredMimeTypesFor(typeof(PngImage), "image/png");
        Formatter.SetPreferredMimeTypesFor(typeof(HtmlFragment), "text/html");
    }
}
