using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>A measurable "does this image show what the prompt asked for?", usable on generated images (blurry,
/// noisy) as well as rendered ones, on any background (a palette colour, <see cref="Backdrop.Plain"/>, or a
/// non-palette style background such as a dark night sky). Each shape group is judged by its own colour:
/// <list type="number">
/// <item>the image is smoothed with a 3×3 box mean (grain and JPEG-like noise average out; shapes are at least
/// 23 px wide at 128², so their interiors keep their colour);</item>
/// <item>a pixel belongs to colour C when C is its nearest palette colour, it lies within
/// <see cref="MaxColourDistance"/> of C, and it is nearer C than the background estimate (per-channel median of a
/// 2-pixel border ring), which keeps a light-grey, dark-blue or any other non-palette background out;</item>
/// <item>the background is named by the palette colour nearest the border median (reported as "rgb(r,g,b)" when
/// no palette colour is within 64, e.g. the plain grey);</item>
/// <item>a 3×3 majority filter removes specks; 4-connected components below a fifth of the largest one (or below
/// <see cref="MinComponentPixels"/>) are dropped;</item>
/// <item>the group is found when what is left covers at least <see cref="MinFoundShare"/> of the area the renderer
/// gives one small shape of the asked class;</item>
/// <item>its cell is the placement whose rendered cluster centre (<see cref="ShapeLayout"/> for the asked size and
/// count) is nearest the centre of the kept pixels' bounding box, so a row of three small shapes at the top left,
/// whose centre sits past the first third, still counts as top left;</item>
/// <item>its shape class is the class of the nearest prototype: an 8×8 occupancy grid of the shape's bounding box
/// plus its aspect ratio, with one prototype per (class, size) measured by running this same finder on the
/// renderer's own images. The grid holds the fill ratio and the corner occupancy (circle: empty corners, square:
/// full ones, triangle: empty top and half-full bottom corners) and the holes of rings and robots.</item>
/// </list>
/// Groups of several shapes are judged on their largest component; two groups of the same colour are found
/// together and their place and class are not judged (null).</summary>
public static class SceneCheck
{
    const int BorderWidth = 2;
    /// <summary>RGB distance within which a smoothed pixel counts as a palette colour. Half the closest pair of
    /// palette colours would be 45; the nearest-colour rule already separates colours, so this bound only has to
    /// keep off-palette pixels out: pattern tints (≥ 49 from their base, but nearest their base), the plain grey
    /// (78 from white) and the style ingredients (kept ≥ 70 from every palette colour).</summary>
    public const int MaxColourDistance = 64;
    /// <summary>A border estimate this close to the asked colour means the background is that colour.</summary>
    const int SameColourDistance = 24;
    /// <summary>Components smaller than this many pixels are specks, not shapes.</summary>
    public const int MinComponentPixels = 8;
    /// <summary>Components smaller than this share of the largest one are dropped.</summary>
    const double MinComponentShare = 0.2;
    /// <summary>Share of the rendered area of one small shape of the asked class that must be found.</summary>
    public const double MinFoundShare = 0.3;
    /// <summary>Background estimates farther than this from every palette colour are "not a palette colour".</summary>
    const int MaxBackgroundDistance = 64;
    const int Grid = 8;
    /// <summary>Weight of the log aspect ratio against the 64 occupancy cells (each 0..1).</summary>
    const double AspectWeight = 8;

    /// <summary>Shape classes whose guess is reliable on rendered, blurred and noisy images (the SceneCheck tests
    /// measure it); a guess of another class is still reported, but an asked class outside this set is not
    /// judged.</summary>
    public static IReadOnlySet<ShapeKind> Judgeable { get; } = new HashSet<ShapeKind>
    {
        ShapeKind.Circle, ShapeKind.Square, ShapeKind.Triangle, ShapeKind.Robot,
    };

    public static bool CanJudge(ShapeKind kind) => Judgeable.Contains(kind);

    public static SceneVerdict Check(SKBitmap image, ShapeScene expected, bool judgeBackground = true) =>
        Check(RgbaBitmaps.ToRgb(image), image.Width, image.Height, expected, judgeBackground);

    /// <summary>Judges every group of <paramref name="expected"/> by its colour, and the background when
    /// <paramref name="judgeBackground"/> and the scene names one (a <see cref="Backdrop.Plain"/> scene asked for no
    /// background, so any is accepted).</summary>
    public static SceneVerdict Check(byte[] rgb, int width, int height, ShapeScene expected,
        bool judgeBackground = true)
    {
        var image = Prepare(rgb, width, height);
        var background = BackgroundIsPalette(image) ? NearestToBorder(image)
            : new NamedColor($"rgb({image.Border.r},{image.Border.g},{image.Border.b})", (byte)image.Border.r,
                (byte)image.Border.g, (byte)image.Border.b);
        bool? backgroundOk = judgeBackground && expected.Background != Backdrop.Plain
            ? NearestToBorder(image) == expected.Background.Color : null;
        var groups = expected.Groups.Select(g =>
        {
            bool shared = expected.Groups.Count(o => o.Color == g.Color) > 1;
            var seen = FindGroup(image, g);
            bool? place = shared || !seen.Found ? (seen.Found ? null : false) : seen.Cell == g.Placement;
            bool? shape = shared || !CanJudge(g.Kind) || !seen.Found ? null : seen.ShapeGuess == g.Kind;
            return new GroupVerdict(g, seen, place, shape);
        }).ToList();
        return new SceneVerdict(background, backgroundOk, groups);
    }

    /// <summary>Finds one group's colour and reports its place and class (see the class comment).</summary>
    public static GroupObservation Find(byte[] rgb, int width, int height, ShapeGroup expected) =>
        FindGroup(Prepare(rgb, width, height), expected);

    /// <summary>The largest blob of non-background (pixels farther than <see cref="MaxColourDistance"/> from
    /// <paramref name="background"/> and from the border estimate, smoothed and filtered like a colour), for
    /// content whose colours are not palette colours (an object LoRA's character). Returns null when the blob
    /// covers less than <paramref name="minShare"/> of the image; else its bounding box and pixel count.</summary>
    public static Blob? FindForeground(byte[] rgb, int width, int height, NamedColor background,
        double minShare = 0.01)
    {
        var image = Prepare(rgb, width, height);
        var s = image.Smooth;
        var mask = new bool[width * height];
        int limit = MaxColourDistance * MaxColourDistance;
        for (int i = 0; i < mask.Length; i++)
        {
            int r = s[3 * i], g = s[3 * i + 1], b = s[3 * i + 2];
            mask[i] = Distance2(r, g, b, background.R, background.G, background.B) > limit
                && Distance2(r, g, b, image.Border.r, image.Border.g, image.Border.b) > limit;
        }
        var kept = Components(Majority(mask, width, height), width, height);
        if (kept.Count == 0) return null;
        var all = kept.SelectMany(c => c).ToList();
        if (all.Count < minShare * width * height) return null;
        return Blob.Of(all, width);
    }

    /// <summary>A set of pixels' count, centroid and bounding box (inclusive), in pixels.</summary>
    public sealed record Blob(int Pixels, double CenterX, double CenterY, int X0, int Y0, int X1, int Y1)
    {
        public int Width => X1 - X0 + 1;
        public int Height => Y1 - Y0 + 1;

        internal static Blob Of(List<int> pixels, int width)
        {
            long sx = 0, sy = 0;
            int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
            foreach (var i in pixels)
            {
                int x = i % width, y = i / width;
                sx += x; sy += y;
                x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y);
            }
            return new Blob(pixels.Count, (double)sx / pixels.Count + 0.5, (double)sy / pixels.Count + 0.5,
                x0, y0, x1, y1);
        }
    }

    /// <summary>The background (border median named by the nearest palette colour) and the most common colour
    /// among pixels that <see cref="Find"/> would assign to a palette colour other than the background's: what an
    /// image shows at a glance, for tables.</summary>
    public static SceneObservation Observe(byte[] rgb, int width, int height)
    {
        var image = Prepare(rgb, width, height);
        var background = NearestToBorder(image);
        var votes = new int[Palette.All.Count];
        for (int k = 0; k < Palette.All.Count; k++)
        {
            var c = Palette.All[k];
            if (c == background) continue;
            votes[k] = Components(Majority(ColourMask(image, c), width, height), width, height).Sum(x => x.Count);
        }
        int best = Array.IndexOf(votes, votes.Max());
        double fraction = (double)votes[best] / (width * height);
        var foreground = votes[best] >= MinComponentPixels ? Palette.All[best] : null;
        return new SceneObservation(background, foreground, foreground is null ? 0 : fraction);
    }

    sealed record Prepared(int[] Smooth, int Width, int Height, (int r, int g, int b) Border);

    static Prepared Prepare(byte[] rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"expected {width * height * 3} RGB bytes for " +
                $"{width}x{height}, got {rgb.Length}");
        return new Prepared(BoxMean(rgb, width, height), width, height, BorderMedian(rgb, width, height));
    }

    static NamedColor NearestToBorder(Prepared image) =>
        Palette.Nearest((byte)image.Border.r, (byte)image.Border.g, (byte)image.Border.b);

    static bool BackgroundIsPalette(Prepared image)
    {
        var (r, g, b) = image.Border;
        var nearest = Palette.Nearest((byte)r, (byte)g, (byte)b);
        return nearest.DistanceSquared((byte)r, (byte)g, (byte)b) <= MaxBackgroundDistance * MaxBackgroundDistance;
    }

    static GroupObservation FindGroup(Prepared image, ShapeGroup expected)
    {
        int w = image.Width, h = image.Height;
        var components = Components(Majority(ColourMask(image, expected.Color), w, h), w, h);
        int pixels = components.Sum(c => c.Count);
        double needed = MinFoundShare * Prototypes.SmallArea(expected.Kind, w, h);
        if (components.Count == 0 || pixels < needed)
            return new GroupObservation(expected.Color, pixels, null, null, null, 0, 0, null);
        var all = components.SelectMany(c => c).ToList();
        var where = Blob.Of(all, w);
        // The bounding-box centre, not the centroid: a triangle's centroid sits a sixth of its height below the
        // centre of the cell it was placed in.
        var cell = NearestCell(expected, (where.X0 + where.X1 + 1) / 2.0, (where.Y0 + where.Y1 + 1) / 2.0, w, h);
        var shapePixels = expected.Count == 1 ? all : components[0];
        var f = Features.Of(shapePixels, w);
        return new GroupObservation(expected.Color, pixels, where, cell, Prototypes.Classify(f, w, h), f.Fill,
            f.Corners, f);
    }

    /// <summary>The placement whose rendered cluster centre (for the group's size and count) is nearest.</summary>
    static Placement NearestCell(ShapeGroup g, double x, double y, int width, int height) =>
        Enum.GetValues<Placement>().MinBy(p =>
        {
            var shapes = ShapeLayout.Place(p, g.Count, g.Size.Fraction(), width, height, ShapeRenderer.BorderMargin);
            double cx = shapes.Average(s => s.X), cy = shapes.Average(s => s.Y);
            return (cx - x) * (cx - x) + (cy - y) * (cy - y);
        });

    static bool[] ColourMask(Prepared image, NamedColor colour)
    {
        var s = image.Smooth;
        var (br, bg, bb) = image.Border;
        int limit = MaxColourDistance * MaxColourDistance;
        var mask = new bool[image.Width * image.Height];
        // A background of this very colour hides any shape of it: nothing can be found.
        if (Distance2(br, bg, bb, colour.R, colour.G, colour.B) <= SameColourDistance * SameColourDistance)
            return mask;
        for (int i = 0; i < mask.Length; i++)
        {
            int r = s[3 * i], g = s[3 * i + 1], b = s[3 * i + 2];
            int d = Distance2(r, g, b, colour.R, colour.G, colour.B);
            if (d > limit || Distance2(r, g, b, br, bg, bb) <= d) continue;
            mask[i] = Palette.Nearest((byte)r, (byte)g, (byte)b) == colour;
        }
        return mask;
    }

    static int Distance2(int r, int g, int b, int r2, int g2, int b2) =>
        (r - r2) * (r - r2) + (g - g2) * (g - g2) + (b - b2) * (b - b2);

    /// <summary>3×3 box mean with edge pixels repeated, rounded to whole RGB values.</summary>
    static int[] BoxMean(byte[] rgb, int width, int height)
    {
        var result = new int[rgb.Length];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 3; c++)
                {
                    int sum = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            int xx = Math.Clamp(x + dx, 0, width - 1), yy = Math.Clamp(y + dy, 0, height - 1);
                            sum += rgb[3 * (yy * width + xx) + c];
                        }
                    result[3 * (y * width + x) + c] = (sum + 4) / 9;
                }
        return result;
    }

    /// <summary>Keeps a pixel when at least 5 of its 3×3 neighbourhood (itself included) are set.</summary>
    static bool[] Majority(bool[] mask, int width, int height)
    {
        var result = new bool[mask.Length];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int n = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int xx = x + dx, yy = y + dy;
                        if (xx >= 0 && yy >= 0 && xx < width && yy < height && mask[yy * width + xx]) n++;
                    }
                result[y * width + x] = n >= 5;
            }
        return result;
    }

    /// <summary>4-connected components, largest first, without specks (see the class comment).</summary>
    static List<List<int>> Components(bool[] mask, int width, int height)
    {
        var seen = new bool[mask.Length];
        var all = new List<List<int>>();
        var stack = new Stack<int>();
        for (int start = 0; start < mask.Length; start++)
        {
            if (!mask[start] || seen[start]) continue;
            var component = new List<int>();
            seen[start] = true; stack.Push(start);
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                component.Add(i);
                int x = i % width, y = i / width;
                void Visit(int j) { if (mask[j] && !seen[j]) { seen[j] = true; stack.Push(j); } }
                if (x > 0) Visit(i - 1);
                if (x < width - 1) Visit(i + 1);
                if (y > 0) Visit(i - width);
                if (y < height - 1) Visit(i + width);
            }
            all.Add(component);
        }
        all.Sort((a, b) => b.Count.CompareTo(a.Count));
        if (all.Count == 0) return all;
        double floor = Math.Max(MinComponentPixels, MinComponentShare * all[0].Count);
        return all.Where(c => c.Count >= floor).ToList();
    }

    /// <summary>Per-channel median of the outer ring: robust to patterns (their tint covers under half the ring or
    /// stays close to the base) and to a shape that touches the edge.</summary>
    static (int, int, int) BorderMedian(byte[] rgb, int width, int height)
    {
        var rs = new List<byte>(); var gs = new List<byte>(); var bs = new List<byte>();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                if (x >= BorderWidth && y >= BorderWidth && x < width - BorderWidth && y < height - BorderWidth)
                    continue;
                int i = 3 * (y * width + x);
                rs.Add(rgb[i]); gs.Add(rgb[i + 1]); bs.Add(rgb[i + 2]);
            }
        static byte Median(List<byte> v) { v.Sort(); return v[v.Count / 2]; }
        return (Median(rs), Median(gs), Median(bs));
    }

    /// <summary>What the shape classifier compares: the occupancy of an 8×8 grid laid over the shape's bounding box
    /// (row-major, each cell 0..1) and the box's log aspect ratio (width/height).</summary>
    public sealed record Features(double[] Cells, double LogAspect)
    {
        /// <summary>The fill ratio of the bounding box.</summary>
        public double Fill => Cells.Average();

        /// <summary>Mean occupancy of the four corner cells.</summary>
        public double Corners => (Cells[0] + Cells[Grid - 1] + Cells[Grid * (Grid - 1)] + Cells[Grid * Grid - 1]) / 4;

        public double DistanceTo(Features other)
        {
            double d = 0;
            for (int i = 0; i < Cells.Length; i++) d += (Cells[i] - other.Cells[i]) * (Cells[i] - other.Cells[i]);
            double a = LogAspect - other.LogAspect;
            return d + AspectWeight * a * a;
        }

        internal static Features Of(List<int> pixels, int width)
        {
            var box = Blob.Of(pixels, width);
            var counts = new double[Grid * Grid];
            var area = new double[Grid * Grid];
            for (int y = box.Y0; y <= box.Y1; y++)
                for (int x = box.X0; x <= box.X1; x++) area[CellOf(box, x, y)]++;
            foreach (var i in pixels) counts[CellOf(box, i % width, i / width)]++;
            var cells = counts.Select((c, k) => area[k] > 0 ? c / area[k] : 0).ToArray();
            return new Features(cells, Math.Log((double)box.Width / box.Height));
        }

        static int CellOf(Blob box, int x, int y) =>
            (y - box.Y0) * Grid / box.Height * Grid + (x - box.X0) * Grid / box.Width;
    }

    /// <summary>One prototype per (class, size), measured by rendering that shape alone in the centre of a plain
    /// backdrop at the image size being judged and running the finder on it; cached per size.</summary>
    static class Prototypes
    {
        static readonly Dictionary<(int, int), (List<(ShapeKind kind, Features f)> all,
            Dictionary<ShapeKind, int> smallArea)> Cache = new();

        static (List<(ShapeKind kind, Features f)> all, Dictionary<ShapeKind, int> smallArea) For(int w, int h)
        {
            lock (Cache)
            {
                if (Cache.TryGetValue((w, h), out var known)) return known;
                var all = new List<(ShapeKind, Features)>();
                var smallArea = new Dictionary<ShapeKind, int>();
                foreach (var kind in Enum.GetValues<ShapeKind>())
                    foreach (var size in Enum.GetValues<ShapeSize>())
                    {
                        var group = new ShapeGroup(kind, Palette.Red, size, Placement.Center);
                        using var bmp = ShapeRenderer.Render(new ShapeScene(Backdrop.Plain, new[] { group }), w, h);
                        var image = Prepare(RgbaBitmaps.ToRgb(bmp), w, h);
                        var pixels = Components(Majority(ColourMask(image, group.Color), w, h), w, h)
                            .SelectMany(c => c).ToList();
                        if (pixels.Count == 0) continue; // too small to draw at this image size
                        all.Add((kind, Features.Of(pixels, w)));
                        if (size == ShapeSize.Small) smallArea[kind] = pixels.Count;
                    }
                return Cache[(w, h)] = (all, smallArea);
            }
        }

        public static double SmallArea(ShapeKind kind, int w, int h) =>
            For(w, h).smallArea.TryGetValue(kind, out var a) ? a : MinComponentPixels;

        public static ShapeKind Classify(Features f, int w, int h) => For(w, h).all.MinBy(p => p.f.DistanceTo(f)).kind;
    }
}
