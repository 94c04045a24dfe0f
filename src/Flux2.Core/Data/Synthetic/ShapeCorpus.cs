using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>The procedural pretraining corpus of FLUX.2-micro: an endless, seeded stream of captioned shape scenes.
/// <see cref="Sample"/> depends only on (seed, index), so a pretraining job can stream millions of pairs without
/// storing them, and any one of them can be reproduced from its index.</summary>
public sealed class ShapeCorpus(int seed, int maxShapes = 3)
{
    /// <summary>Opposite cells for two-group scenes, so the groups never touch.</summary>
    static readonly (Placement, Placement)[] OppositePairs =
    {
        (Placement.Left, Placement.Right), (Placement.Top, Placement.Bottom),
        (Placement.TopLeft, Placement.BottomRight), (Placement.TopRight, Placement.BottomLeft),
    };

    public int Seed { get; } = seed;

    public ShapeScene Sample(long index) => Generate(SeedMixer.RandomFor(Seed, index));

    /// <summary>Share of single-group pretraining scenes whose shapes are turned into robots, in percent.</summary>
    public const int RobotPercent = 15;
    /// <summary>Share of pretraining captions that name the background, in percent; the others show
    /// <see cref="Backdrop.Plain"/> and say nothing about it.</summary>
    public const int BackgroundPhrasePercent = 50;
    /// <summary>Share of robot scenes captioned in the object form ("robot, small, at the left, ..."), in
    /// percent.</summary>
    public const int ObjectFormPercent = 50;
    const int HeldOutSalt = 0x5EED0C;

    /// <summary>Pretraining example <paramref name="index"/>: a <see cref="Generate"/>d scene, then (further draws
    /// from the same stream) robots in place of a single group's shapes, the background phrase kept or dropped (a
    /// dropped phrase shows <see cref="Backdrop.Plain"/>), and the caption form. Scenes that contain a
    /// <see cref="IsHeldOut"/> combination are redrawn, so no pretraining caption ever asks for one.</summary>
    public (ShapeScene scene, string caption) PretrainingItem(long index)
    {
        var rng = SeedMixer.RandomFor(Seed, index);
        while (true)
        {
            var scene = Generate(rng);
            bool robot = scene.Groups.Count == 1 && rng.Next(100) < RobotPercent;
            if (robot) scene = scene with { Groups = new[] { scene.Groups[0] with { Kind = ShapeKind.Robot } } };
            bool namesBackground = rng.Next(100) < BackgroundPhrasePercent;
            if (!namesBackground) scene = scene with { Background = Backdrop.Plain };
            bool objectForm = robot && scene.ShapeCount == 1 && rng.Next(100) < ObjectFormPercent;
            if (scene.Groups.Any(g => IsHeldOut(g.Kind, g.Color, g.Placement))) continue;
            return (scene, objectForm ? SceneCaption.ObjectForm(scene) : SceneCaption.Describe(scene));
        }
    }

    /// <summary>About one (shape class, colour, place) combination in eight never appears in pretraining: the
    /// base-model sanity check asks for these, so it measures whether the model composes words it knows rather
    /// than whether it remembers captions. A fixed hash decides, independent of the corpus seed.</summary>
    public static bool IsHeldOut(ShapeKind kind, NamedColor color, Placement placement)
    {
        int colorIndex = -1;
        for (int i = 0; i < Palette.All.Count; i++) if (Palette.All[i] == color) colorIndex = i;
        if (colorIndex < 0) return false;
        long key = ((long)kind * 16 + colorIndex) * 16 + (long)placement;
        return SeedMixer.Mix(HeldOutSalt, key) % 8 == 0;
    }

    public static SKBitmap Render(ShapeScene scene, int width, int height) =>
        ShapeRenderer.Render(scene, width, height);

    public static string Caption(ShapeScene scene) => SceneCaption.Describe(scene);

    /// <summary>Draws one scene from <paramref name="rng"/>. The order of draws is part of the format: changing it
    /// changes every committed dataset (a test catches that).</summary>
    public ShapeScene Generate(Random rng)
    {
        var background = RandomBackdrop(rng, Palette.All);
        var shapeColors = Palette.All.Where(c => c != background.Color).ToArray();
        bool twoGroups = maxShapes >= 2 && rng.Next(10) < 3;
        if (!twoGroups)
        {
            int count = maxShapes == 1 ? 1 : PickCount(rng, Math.Min(3, maxShapes));
            var size = count switch
            {
                1 => Pick(rng, Enum.GetValues<ShapeSize>()),
                2 => Pick(rng, ShapeSize.Small, ShapeSize.Medium),
                _ => ShapeSize.Small
            };
            var placement = Pick(rng, Enum.GetValues<Placement>());
            return new ShapeScene(background, new[] { RandomGroup(rng, shapeColors, size, placement, count) });
        }
        var (first, second) = Pick(rng, OppositePairs);
        if (rng.Next(2) == 1) (first, second) = (second, first);
        // Two groups: three shapes at most, and no large ones (they would collide across the middle).
        int extra = maxShapes >= 3 ? rng.Next(3) : 0; // 0: 1+1 shapes, 1: 2+1, 2: 1+2
        var a = RandomGroup(rng, shapeColors, Pick(rng, ShapeSize.Small, ShapeSize.Medium), first, extra == 1 ? 2 : 1);
        var b = RandomGroup(rng, shapeColors, Pick(rng, ShapeSize.Small, ShapeSize.Medium), second, extra == 2 ? 2 : 1);
        return new ShapeScene(background, new[] { a, b });
    }

    /// <summary>Solid backgrounds are the most common (40%); each pattern gets 15%.</summary>
    public static Backdrop RandomBackdrop(Random rng, IReadOnlyList<NamedColor> colors)
    {
        var color = colors[rng.Next(colors.Count)];
        int roll = rng.Next(20);
        var pattern = roll < 8 ? BackdropPattern.Solid : (BackdropPattern)(1 + (roll - 8) / 3);
        return new Backdrop(color, pattern);
    }

    static ShapeGroup RandomGroup(Random rng, NamedColor[] colors, ShapeSize size, Placement placement, int count) =>
        new(Pick(rng, ShapeKindWords.Geometric.ToArray()), Pick(rng, colors), size, placement, count);

    /// <summary>One shape 60% of the time, two 25%, three 15%.</summary>
    static int PickCount(Random rng, int max)
    {
        int roll = rng.Next(20);
        int count = roll < 12 ? 1 : roll < 17 ? 2 : 3;
        return Math.Min(count, max);
    }

    static T Pick<T>(Random rng, params T[] items) => items[rng.Next(items.Length)];
}
