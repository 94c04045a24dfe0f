using Flux2.Data.Synthetic;
using Xunit;

namespace Flux2.Tests.Data;

public class SceneCheckTests
{
    const int Size = 128;

    static byte[] RenderRgb(ShapeScene scene)
    {
        using var bmp = ShapeCorpus.Render(scene, Size, Size);
        return RgbaBitmaps.ToRgb(bmp);
    }

    static List<ShapeScene> SingleShapeScenes(int n) => Enumerable.Range(0, n)
        .Select(i => new ShapeCorpus(11, maxShapes: 1).Sample(i)).ToList();

    [Fact]
    public void GroundTruth_SingleShapeScenes_ColoursMatchAtLeast95Percent()
    {
        var scenes = SingleShapeScenes(200);
        var failures = scenes.Where(s => !SceneCheck.Check(RenderRgb(s), Size, Size, s).ColoursMatch)
            .Select(ShapeCorpus.Caption).ToList();
        Assert.True(failures.Count <= 10, $"{failures.Count}/200 failed, e.g.: {string.Join(" | ", failures.Take(5))}");
    }

    [Fact]
    public void GroundTruth_CircleSquareTriangle_ShapeClassAtLeast95Percent()
    {
        var rng = new Random(3);
        var kinds = new[] { ShapeKind.Circle, ShapeKind.Square, ShapeKind.Triangle };
        int total = 0, wrong = 0;
        var examples = new List<string>();
        for (int i = 0; i < 150; i++)
        {
            var backdrop = ShapeCorpus.RandomBackdrop(rng, Palette.All);
            var colours = Palette.All.Where(c => c != backdrop.Color).ToArray();
            var group = new ShapeGroup(kinds[i % 3], colours[rng.Next(colours.Length)],
                Enum.GetValues<ShapeSize>()[rng.Next(3)], Enum.GetValues<Placement>()[rng.Next(9)]);
            var scene = new ShapeScene(backdrop, new[] { group });
            var verdict = SceneCheck.Check(RenderRgb(scene), Size, Size, scene);
            total++;
            if (verdict.ShapeMatches != true)
            {
                wrong++; examples.Add($"{ShapeCorpus.Caption(scene)} -> " +
                $"{verdict.Observed.ShapeGuess} (fill {verdict.Observed.FillRatio:F2})");
            }
        }
        Assert.True(wrong <= total / 20, $"{wrong}/{total} shapes misjudged: {string.Join(" | ", examples.Take(5))}");
    }

    [Fact]
    public void MismatchedColours_AreRejected()
    {
        var scenes = SingleShapeScenes(100);
        int wronglyAccepted = 0;
        foreach (var s in scenes)
        {
            var g = s.SingleShape;
            var rgb = RenderRgb(s);
            // Every other palette colour for the shape, and for the background, must be refused.
            foreach (var other in Palette.All.Where(c => c != g.Color))
                if (SceneCheck.Check(rgb, Size, Size, other, s.Background.Color).ColoursMatch) wronglyAccepted++;
            foreach (var other in Palette.All.Where(c => c != s.Background.Color))
                if (SceneCheck.Check(rgb, Size, Size, g.Color, other).ColoursMatch) wronglyAccepted++;
        }
        Assert.Equal(0, wronglyAccepted);
    }

    [Fact]
    public void SwappedColours_AreRejected()
    {
        var scene = new ShapeScene(new Backdrop(Palette.Blue, BackdropPattern.Solid),
            new[] { new ShapeGroup(ShapeKind.Circle, Palette.Red, ShapeSize.Large, Placement.Center) });
        var rgb = RenderRgb(scene);
        var right = SceneCheck.Check(rgb, Size, Size, Palette.Red, Palette.Blue, ShapeKind.Circle);
        Assert.True(right.Passed, $"observed {right.Observed}");
        Assert.False(SceneCheck.Check(rgb, Size, Size, Palette.Blue, Palette.Red).ColoursMatch);
        Assert.False(SceneCheck.Check(rgb, Size, Size, Palette.Red, Palette.Blue, ShapeKind.Square).Passed);
    }

    [Fact]
    public void NoisyImages_LikeGeneratedOnes_StillMostlyPass()
    {
        // Gaussian-ish noise (sum of three uniforms, σ ≈ 17) stands in for a generated image's grain.
        var rng = new Random(9);
        var scenes = SingleShapeScenes(100);
        int passed = 0;
        foreach (var s in scenes)
        {
            var rgb = RenderRgb(s);
            for (int i = 0; i < rgb.Length; i++)
                rgb[i] = (byte)Math.Clamp(rgb[i] + rng.Next(-20, 21) + rng.Next(-20, 21) + rng.Next(-20, 21), 0, 255);
            if (SceneCheck.Check(rgb, Size, Size, s).ColoursMatch) passed++;
        }
        Assert.True(passed >= 90, $"only {passed}/100 noisy scenes passed");
    }

    [Fact]
    public void EmptyImage_HasNoForeground()
    {
        var rgb = Enumerable.Repeat(new byte[] { 30, 70, 230 }, Size * Size).SelectMany(p => p).ToArray();
        var seen = SceneCheck.Observe(rgb, Size, Size);
        Assert.Equal(Palette.Blue, seen.Background);
        Assert.Null(seen.Foreground);
        Assert.False(SceneCheck.Check(rgb, Size, Size, Palette.Red, Palette.Blue).ColoursMatch);
    }
}
