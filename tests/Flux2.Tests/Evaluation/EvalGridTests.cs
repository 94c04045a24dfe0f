using Flux2.Evaluation;
using SkiaSharp;
using Xunit;

namespace Flux2.Tests.Evaluation;

/// <summary>The pure parts of the evaluation comparison grid: whole-pixel upscaling, heat-map colours, layout sizes,
/// and a written grid whose cells hold the upscaled images under drawn titles.</summary>
public class EvalGridTests
{
    static byte[] Solid(int w, int h, byte r, byte g, byte b) =>
        Enumerable.Range(0, w * h).SelectMany(_ => new[] { r, g, b }).ToArray();

    [Fact]
    public void UpscaleRepeatsEachPixelAsAFactorByFactorBlock()
    {
        byte[] rgb = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]; // 2x2
        var up = EvalGrid.Upscale(rgb, 2, 2, 3);
        Assert.Equal(6 * 6 * 3, up.Length);
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 6; x++)
                Assert.Equal(rgb.AsSpan(((y / 3) * 2 + x / 3) * 3, 3).ToArray(),
                    up.AsSpan((y * 6 + x) * 3, 3).ToArray());
        Assert.Equal(3, EvalGrid.ScaleFor(128, 128));
        Assert.Equal(6, EvalGrid.ScaleFor(64, 64));
        Assert.Equal(1, EvalGrid.ScaleFor(1024, 1024));
    }

    [Fact]
    public void HeatColoursRunFromBlackThroughRedAndYellowToWhite()
    {
        Assert.Equal(((byte)0, (byte)0, (byte)0), EvalGrid.HeatColor(0));
        Assert.Equal(((byte)255, (byte)0, (byte)0), EvalGrid.HeatColor(EvalGrid.HeatFullScale / 3));
        Assert.Equal(((byte)255, (byte)255, (byte)0), EvalGrid.HeatColor(EvalGrid.HeatFullScale * 2 / 3));
        Assert.Equal(((byte)255, (byte)255, (byte)255), EvalGrid.HeatColor(EvalGrid.HeatFullScale));
        Assert.Equal(((byte)255, (byte)255, (byte)255), EvalGrid.HeatColor(1.0));

        var same = EvalGrid.HeatMap(Solid(4, 4, 1, 2, 3), Solid(4, 4, 1, 2, 3));
        Assert.All(same, v => Assert.Equal(0, v));
        // mean |Δ| over channels: (255 + 0 + 0) / 3 / 255 = 1/3 → t = (1/3) / 0.5 · 3 = 2 → yellow
        var one = EvalGrid.HeatMap(Solid(1, 1, 255, 9, 9), Solid(1, 1, 0, 9, 9));
        Assert.Equal(new byte[] { 255, 255, 0 }, one);
    }

    [Fact]
    public void LayoutSizesFollowCellsTitlesAndCaptions()
    {
        var l = new EvalGrid.GridLayout(5, 8, 384, 384);
        Assert.Equal(EvalGrid.Pad + 5 * (384 + EvalGrid.Pad), l.Width);
        Assert.Equal(EvalGrid.HeaderHeight + 8 * (EvalGrid.CaptionHeight + 384 + EvalGrid.Pad), l.Height);
        Assert.Equal(EvalGrid.Pad + 2 * 388, l.CellX(2));
        Assert.Equal(EvalGrid.HeaderHeight + EvalGrid.CaptionHeight, l.CellY(0));
        Assert.Equal(l.CellY(0) + 384 + EvalGrid.Pad + EvalGrid.CaptionHeight, l.CellY(1));
    }

    [Fact]
    public void AWrittenGridHoldsTheUpscaledCellsUnderTitles()
    {
        const int w = 32, h = 32, rows = 2;
        byte[] Cell(byte v) => Solid(w, h, v, (byte)(v / 2), 7);
        var images = new EvalGridImages(w, h, [Cell(10), Cell(20)], [Cell(30), Cell(40)], [Cell(50), Cell(60)],
            [EvalGrid.HeatMap(Cell(50), Cell(50)), EvalGrid.HeatMap(Cell(60), Cell(0))]);
        var path = Path.Combine(TestPaths.TempDir(), EvalGrid.FileName);
        EvalGrid.Write(path, images, [Cell(200)], ["a red circle", "a blue square"]);

        using var png = SKBitmap.Decode(path);
        int f = EvalGrid.ScaleFor(w, h);
        var layout = new EvalGrid.GridLayout(EvalGrid.Columns.Count, rows, w * f, h * f);
        Assert.Equal((layout.Width, layout.Height), (png.Width, png.Height));
        SKColor At(int column, int row) =>
            png.GetPixel(layout.CellX(column) + w * f - 1, layout.CellY(row) + h * f - 1);
        Assert.Equal(new SKColor(200, 100, 7), At(0, 1)); // the dataset reference, used in turn
        Assert.Equal(new SKColor(20, 10, 7), At(1, 1));
        Assert.Equal(new SKColor(40, 20, 7), At(2, 1));
        Assert.Equal(new SKColor(60, 30, 7), At(3, 1));
        Assert.Equal(new SKColor(0, 0, 0), At(4, 0)); // no difference: black
        var expected = EvalGrid.HeatColor((60 + 30) / (3 * 255.0));
        Assert.Equal(new SKColor(expected.R, expected.G, expected.B), At(4, 1));
        bool inked = false;
        for (int x = 0; x < png.Width && !inked; x++)
            for (int y = 0; y < EvalGrid.HeaderHeight; y++)
                if (png.GetPixel(x, y).Red < 128) { inked = true; break; }
        Assert.True(inked, "no title drawn in the header row");
    }
}
