namespace Flux2.Data.Synthetic;

/// <summary>What an image shows at a glance (<see cref="SceneCheck.Observe"/>): the palette name of the background
/// (nearest to the border median), the most common other palette colour, and the share of the image it
/// covers.</summary>
public sealed record SceneObservation(NamedColor Background, NamedColor? Foreground, double ForegroundFraction);

/// <summary>One shape group looked for by its colour (<see cref="SceneCheck.Find"/>): how many pixels of the colour
/// were kept, where they are (<see cref="Where"/>, null when too few), the placement cell of their bounding-box centre,
/// and
/// the shape class of the nearest prototype with the fill ratio and corner occupancy of its bounding box.</summary>
public sealed record GroupObservation(NamedColor Color, int Pixels, SceneCheck.Blob? Where, Placement? Cell,
    ShapeKind? ShapeGuess, double Fill, double Corners, SceneCheck.Features? Features)
{
    public bool Found => Cell is not null;
}

/// <summary>A group's observation compared with what the prompt asked for. <see cref="PlacementMatches"/> and
/// <see cref="ShapeMatches"/> are null where not judged: a class outside <see cref="SceneCheck.Judgeable"/>, or two
/// groups of the same colour.</summary>
public sealed record GroupVerdict(ShapeGroup Expected, GroupObservation Observed, bool? PlacementMatches,
    bool? ShapeMatches)
{
    public bool ColourFound => Observed.Found;

    public bool Passed => ColourFound && PlacementMatches != false && ShapeMatches != false;
}

/// <summary>A whole scene judged: the background's palette name (or "rgb(r,g,b)" when the border is no palette
/// colour) with whether it is the asked one (null when no background was asked for or judged), and one verdict per
/// group.</summary>
public sealed record SceneVerdict(NamedColor SeenBackground, bool? BackgroundMatches,
    IReadOnlyList<GroupVerdict> Groups)
{
    public bool ColoursMatch => BackgroundMatches != false && Groups.All(g => g.ColourFound);

    public bool Passed => BackgroundMatches != false && Groups.All(g => g.Passed);
}
