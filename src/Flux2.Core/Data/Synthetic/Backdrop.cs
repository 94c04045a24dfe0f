namespace Flux2.Data.Synthetic;

/// <summary>How the background is filled. Patterns use a faint tint of the base colour (20%) so the base colour
/// stays dominant and an evaluator can still name it.</summary>
public enum BackdropPattern { Solid, Gradient, Stripes, Dots, Checkers }

/// <summary>A background: one palette colour plus a pattern.</summary>
public sealed record Backdrop(NamedColor Color, BackdropPattern Pattern)
{
    /// <summary>The caption phrase, e.g. "on a striped green background".</summary>
    public string Phrase => Pattern switch
    {
        BackdropPattern.Solid => $"on {Article(Color.Name)} {Color.Name} background",
        BackdropPattern.Gradient => $"on {Article(Color.Name)} {Color.Name} gradient background",
        BackdropPattern.Stripes => $"on a striped {Color.Name} background",
        BackdropPattern.Dots => $"on a dotted {Color.Name} background",
        _ => $"on a checkered {Color.Name} background",
    };

    internal static string Article(string word) => "aeiou".Contains(word[0]) ? "an" : "a";
}
