namespace Flux2.Data.Synthetic;

/// <summary>Where a group of shapes sits: a 3×3 grid of named cells.</summary>
public enum Placement { Center, Left, Right, Top, Bottom, TopLeft, TopRight, BottomLeft, BottomRight }

public static class PlacementExtensions
{
    /// <summary>The caption phrase, e.g. "at the top left", "in the center".</summary>
    public static string Phrase(this Placement p) => p switch
    {
        Placement.Center => "in the center",
        Placement.TopLeft => "at the top left",
        Placement.TopRight => "at the top right",
        Placement.BottomLeft => "at the bottom left",
        Placement.BottomRight => "at the bottom right",
        _ => "at the " + p.ToString().ToLowerInvariant(),
    };

    /// <summary>The cell centre as fractions of width and height (0.23 / 0.5 / 0.77: the middle of each third,
    /// pulled slightly inwards so medium shapes still fit).</summary>
    public static (double x, double y) Center(this Placement p)
    {
        const double near = 0.23, mid = 0.5, far = 0.77;
        return p switch
        {
            Placement.Center => (mid, mid),
            Placement.Left => (near, mid),
            Placement.Right => (far, mid),
            Placement.Top => (mid, near),
            Placement.Bottom => (mid, far),
            Placement.TopLeft => (near, near),
            Placement.TopRight => (far, near),
            Placement.BottomLeft => (near, far),
            _ => (far, far),
        };
    }

    /// <summary>True when a group here should be laid out as a column (left/right cells) rather than a row, so two
    /// groups on opposite sides never collide.</summary>
    public static bool StacksVertically(this Placement p) => p is Placement.Left or Placement.Right;
}
