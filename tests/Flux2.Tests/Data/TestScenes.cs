using Flux2.Data.Synthetic;

namespace Flux2.Tests.Data;

/// <summary>Helpers for tests that judge scenes against deliberately wrong expectations.</summary>
public static class TestScenes
{
    /// <summary>The cell opposite <paramref name="p"/> through the centre (the centre stays).</summary>
    public static Placement Mirror(Placement p) => p switch
    {
        Placement.Left => Placement.Right,
        Placement.Right => Placement.Left,
        Placement.Top => Placement.Bottom,
        Placement.Bottom => Placement.Top,
        Placement.TopLeft => Placement.BottomRight,
        Placement.BottomRight => Placement.TopLeft,
        Placement.TopRight => Placement.BottomLeft,
        Placement.BottomLeft => Placement.TopRight,
        _ => Placement.Center,
    };
}
