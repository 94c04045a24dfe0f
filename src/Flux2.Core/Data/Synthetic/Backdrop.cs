namespace Flux2.Data.Synthetic;

/// <summary>How the background is filled. Patterns use a faint tint of the base colour (20%) so the base colour
/// stays dominant and an evaluator can still name it.</summary>
public enum BackdropPattern { Solid, Gradient, Stripes, Dots, Checkers }

/// <summary>A background: one palette colour plus a pattern.</summary>
public sealed record Backdrop(NamedColor Color, BackdropPattern Pattern)
{
    /// <summary>What the base model draws behind the shapes when a caption names no background: a solid light grey
    /// that is not a palette colour (each palette colour, white included, stays at least 75 RGB units away, so
    /// every shape colour is visible on it). A pretraining caption without a background phrase always shows this
    /// backdrop, which gives "a red circle" one clear meaning.</summary>
    public static Backdrop Plain { get; } = new(new NamedColor("plain", 200, 200, 200), BackdropPattern.Solid);

    /// <summary>The caption phrase, e.g. "on a striped green background"; empty for <see cref="Plain"/>.</summary>
    public string Phrase => this == Plain ? "" : Pattern switch
    {
        BackdropPattern.Solid => $"on {Article(Color.Name)} {Color.Name} background",
        BackdropPattern.Gradient => $"on {Article(Color.Name)} {Color.Name} gradient background",
        BackdropPattern.Stripes => $"on a striped {Color.Name} background",
        BackdropPattern.Dots => $"on a dotted {Color.Name} background",
        _ => $"on a checkered {Color.Name} background",
    };

    internal static string Article(string word) => "aeiou".Contains(word[0]) ? "an" : "a";
}
