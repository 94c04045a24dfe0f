namespace Flux2.Data.Synthetic;

/// <summary>What <see cref="SceneCheck"/> read off an image: the palette names of the background and of the dominant
/// foreground colour, how much of the image is foreground, and the fill ratio of that colour's bounding box with
/// the crude shape class it suggests (circle ≈ 0.785, square ≈ 1, triangle ≈ 0.5).</summary>
public sealed record SceneObservation(NamedColor Background, NamedColor? Foreground, double ForegroundFraction,
    double FillRatio, ShapeKind? ShapeGuess);

/// <summary>An observation compared with what the prompt asked for. <see cref="ShapeMatches"/> is null when no
/// shape was asked for or the asked shape is not one of the three the fill ratio can tell apart.</summary>
public sealed record SceneVerdict(SceneObservation Observed, bool BackgroundMatches, bool ForegroundMatches,
    bool? ShapeMatches)
{
    public bool ColoursMatch => BackgroundMatches && ForegroundMatches;

    public bool Passed => ColoursMatch && ShapeMatches != false;
}
