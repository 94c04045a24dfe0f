using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>One training pair as ai-toolkit reads it: an image and the caption stored beside it in a same-name
/// .txt.</summary>
public sealed record CaptionedImage(SKBitmap Image, string Caption) : IDisposable
{
    public void Dispose() => Image.Dispose();
}
