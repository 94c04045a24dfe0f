using Flux2.Data.Synthetic;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace Flux2.Tests.Data;

public class SceneCheckTests(ITestOutputHelper output)
{
    const int Size = 128;

    /// <summary>A dark blue-violet night sky that is no palette colour (the kind of background a style LoRA
    /// paints).</summary>
    static readonly Backdrop DarkSky = new(new NamedColor("night", 25, 20, 70), BackdropPattern.Solid);

    static byte[] RenderRgb(ShapeScene scene)
    {
        using var bmp = ShapeRenderer.Render(scene, Size, Size);
        return RgbaBitmaps.ToRgb(bmp);
    }

    /// <summary>What a generated or JPEG-compressed image does to edges and flat areas: a 3×3 binomial blur, then
    /// noise (sum of three uniforms in ±<paramref name="noise"/>).</summary>
    static byte[] Degrade(byte[] rgb, int seed, int noise = 12)
    {
        var rng = new Random(seed);
        var result = new byte[rgb.Length];
        int[] k = { 1, 2, 1 };
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
                for (int c = 0; c < 3; c++)
                {
                    int sum = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            int xx = Math.Clamp(x + dx, 0, Size - 1), yy = Math.Clamp(y + dy, 0, Size - 1);
                            sum += k[dx + 1] * k[dy + 1] * rgb[3 * (yy * Size + xx) + c];
                        }
                    int n = rng.Next(-noise, noise + 1) + rng.Next(-noise, noise + 1) + rng.Next(-noise, noise + 1);
                    result[3 * (y * Size + x) + c] = (byte)Math.Clamp((sum + 8) / 16 + n, 0, 255);
                }
        return result;
    }

    static IEnumerable<Backdrop> Backgrounds(NamedColor shape, int i) => new[]
    {
        Backdrop.Plain, DarkSky,
        new Backdrop(Palette.All.Where(c => c != shape).ElementAt(i % 9), BackdropPattern.Solid),
    };

    /// <summary>Every class × size × place on the plain backdrop, a dark non-palette sky and a palette colour,
    /// clean and degraded; returns per-class (judged, right) counts and examples of misses.</summary>
    (Dictionary<ShapeKind, (int n, int ok)> perKind, List<string> misses) Sweep(bool degrade)
    {
        var perKind = Enum.GetValues<ShapeKind>().ToDictionary(k => k, _ => (n: 0, ok: 0));
        var misses = new List<string>();
        int i = 0;
        foreach (var kind in Enum.GetValues<ShapeKind>())
            foreach (var size in Enum.GetValues<ShapeSize>())
                foreach (var place in Enum.GetValues<Placement>())
                {
                    var colour = Palette.All[i % Palette.All.Count];
                    foreach (var backdrop in Backgrounds(colour, i))
                    {
                        var scene = new ShapeScene(backdrop, new[] { new ShapeGroup(kind, colour, size, place) });
                        var rgb = RenderRgb(scene);
                        if (degrade) rgb = Degrade(rgb, i);
                        var v = SceneCheck.Check(rgb, Size, Size, scene).Groups[0];
                        bool ok = v.ColourFound && v.PlacementMatches == true && v.Observed.ShapeGuess == kind;
                        var (n, k) = perKind[kind];
                        perKind[kind] = (n + 1, k + (ok ? 1 : 0));
                        if (!ok) misses.Add($"{SceneCaption.Describe(scene)} on {backdrop.Color}: found " +
                            $"{v.ColourFound}, cell {v.Observed.Cell}, guess {v.Observed.ShapeGuess}");
                    }
                    i++;
                }
        foreach (var (kind, (n, ok)) in perKind) output.WriteLine($"{kind}: {ok}/{n}");
        foreach (var m in misses.Take(20)) output.WriteLine(m);
        return (perKind, misses);
    }

    [Fact]
    public void RenderedScenes_EveryClassSizeAndPlace_AreFoundWhereAskedWithTheirClass()
    {
        var (perKind, misses) = Sweep(degrade: false);
        foreach (var kind in SceneCheck.Judgeable)
            Assert.True(perKind[kind].ok == perKind[kind].n, $"{kind}: {string.Join(" | ", misses.Take(5))}");
        // Colour and place are right for every class, judgeable or not.
        Assert.True(misses.Count <= perKind.Values.Sum(v => v.n) / 20, string.Join(" | ", misses.Take(5)));
    }

    [Fact]
    public void BlurredNoisyScenes_JudgeableClassesStayAtLeast97PercentRight()
    {
        var (perKind, misses) = Sweep(degrade: true);
        foreach (var kind in SceneCheck.Judgeable)
            Assert.True(perKind[kind].ok >= 0.97 * perKind[kind].n,
                $"{kind}: {perKind[kind].ok}/{perKind[kind].n}; {string.Join(" | ", misses.Take(5))}");
    }
}

public class SceneCheckExpectationTests(ITestOutputHelper output)
{
    const int Size = 128;

    static byte[] RenderRgb(ShapeScene scene)
    {
        using var bmp = ShapeRenderer.Render(scene, Size, Size);
        return RgbaBitmaps.ToRgb(bmp);
    }

    /// <summary>Corpus scenes with patterns and two groups: every group of its own colour is found in its cell
    /// with its class.</summary>
    [Fact]
    public void CorpusScenes_EveryGroupJudgedByItsOwnColour()
    {
        var scenes = Enumerable.Range(0, 200).Select(i => new ShapeCorpus(11).Sample(i)).ToList();
        Assert.True(scenes.Count(s => s.Groups.Count == 2) >= 30);
        var failures = scenes.Where(s => !SceneCheck.Check(RenderRgb(s), Size, Size, s).Passed)
            .Select(SceneCaption.Describe).ToList();
        foreach (var f in failures) output.WriteLine(f);
        Assert.True(failures.Count <= 6, $"{failures.Count}/200 failed, e.g.: {string.Join(" | ", failures.Take(5))}");
    }

    /// <summary>On the same rendered images, a wrong colour (any palette colour not in the scene), a mirrored cell
    /// or another judgeable class is refused.</summary>
    [Fact]
    public void WrongExpectations_AreRefused()
    {
        var scenes = Enumerable.Range(0, 100).Select(i => new ShapeCorpus(12, maxShapes: 1).Sample(i)).ToList();
        int judged = 0, accepted = 0;
        var examples = new List<string>();
        foreach (var s in scenes)
        {
            var rgb = RenderRgb(s);
            var g = s.Groups[0];
            var wrong = Palette.All.Where(c => c != g.Color).Select(c => g with { Color = c }).ToList();
            if (g.Placement != Placement.Center) wrong.Add(g with { Placement = TestScenes.Mirror(g.Placement) });
            foreach (var k in SceneCheck.Judgeable.Where(k => k != g.Kind && SceneCheck.CanJudge(g.Kind)))
                wrong.Add(g with { Kind = k });
            foreach (var w in wrong)
            {
                judged++;
                if (SceneCheck.Check(rgb, Size, Size, s with { Groups = new[] { w } }).Passed)
                {
                    accepted++; examples.Add($"{SceneCaption.Describe(s)} accepted as {SceneCaption.Group(w)}");
                }
            }
            var otherBackground = Palette.All.First(c => c != s.Background.Color && c != g.Color);
            judged++;
            if (SceneCheck.Check(rgb, Size, Size, s with { Background = s.Background with { Color = otherBackground } })
                .Passed) accepted++;
        }
        Assert.True(judged >= 1000, $"{judged}");
        Assert.True(accepted == 0, string.Join(" | ", examples.Take(5)));
    }


    /// <summary>The midnight_tarot look (black night sky, gold outlines and frame) around content in any colour but
    /// the look's own (black, yellow): each group is still found in its cell with its class.</summary>
    [Fact]
    public void StyledImages_ContentIsFoundOnTheNightSky()
    {
        int total = 0, passed = 0;
        var kinds = new[] { ShapeKind.Circle, ShapeKind.Square, ShapeKind.Triangle };
        var colours = Palette.All.Except(MidnightTarotStyle.LookColors).ToArray();
        int i = 0;
        foreach (var kind in kinds)
            foreach (var size in Enum.GetValues<ShapeSize>())
                foreach (var place in Enum.GetValues<Placement>())
                {
                    var scene = new ShapeScene(Backdrop.Plain,
                        new[] { new ShapeGroup(kind, colours[i++ % colours.Length], size, place) });
                    using var bmp = MidnightTarotStyle.Render(scene, Size, Size);
                    var v = SceneCheck.Check(bmp, scene);
                    total++;
                    if (v.Passed) passed++;
                    else output.WriteLine($"{SceneCaption.Describe(scene)}: {v.Groups[0].Observed}");
                }
        Assert.True(passed >= 0.97 * total, $"{passed}/{total}");
    }

    [Fact]
    public void DarkOrEmptyImages_FindNothing()
    {
        var dark = Enumerable.Repeat(new byte[] { 15, 12, 40 }, Size * Size).SelectMany(p => p).ToArray();
        var blue = Enumerable.Repeat(new byte[] { 30, 70, 230 }, Size * Size).SelectMany(p => p).ToArray();
        foreach (var c in Palette.All.Where(c => c != Palette.Black))
        {
            var scene = new ShapeScene(Backdrop.Plain,
                new[] { new ShapeGroup(ShapeKind.Circle, c, ShapeSize.Large, Placement.Center) });
            Assert.False(SceneCheck.Check(dark, Size, Size, scene).Groups[0].ColourFound, c.Name);
            Assert.False(SceneCheck.Check(blue, Size, Size, scene).Groups[0].ColourFound, c.Name);
        }
        var seen = SceneCheck.Observe(blue, Size, Size);
        Assert.Equal(Palette.Blue, seen.Background);
        Assert.Null(seen.Foreground);
    }
}
