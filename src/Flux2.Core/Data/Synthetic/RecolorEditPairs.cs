namespace Flux2.Data.Synthetic;

/// <summary>
/// A tiny edit/instruction dataset (docs/lora-guide.md §1, type 4: source + target + instruction): the control image
/// is a shape scene with one circle in some colour, the target the very same scene with the circle blue, the caption
/// the instruction "make the circle blue". Only the circle's colour differs between the two, so what a LoRA can learn
/// from the pair is exactly the instruction. Written as ai-toolkit reads edit sets: <c>target/</c> (images + captions,
/// the dataset's folder_path) and <c>control/</c> (same file names, its control_path).
/// </summary>
public static class RecolorEditPairs
{
    public const string Instruction = "make the circle blue", FilePrefix = "recolor";
    public const int DefaultCount = 16, DefaultSeed = 1;

    static readonly NamedColor[] SourceColors = { Palette.Red, Palette.Orange, Palette.Yellow, Palette.Green,
        Palette.Purple, Palette.Pink, Palette.White, Palette.Black };
    static readonly NamedColor[] Backgrounds = { Palette.White, Palette.Yellow, Palette.Green, Palette.Pink,
        Palette.Orange, Palette.Black };

    /// <summary>The (control, target) scenes of item <paramref name="index"/>: a pure function of (seed,
    /// index).</summary>
    public static (ShapeScene control, ShapeScene target) Scenes(int seed, int index)
    {
        var rng = SeedMixer.RandomFor(seed, index);
        var color = SourceColors[rng.Next(SourceColors.Length)];
        var size = Enum.GetValues<ShapeSize>()[rng.Next(3)];
        var placement = Enum.GetValues<Placement>()[rng.Next(9)];
        // The background never shares the source colour, so the circle is always visible before and after.
        var backdrop = ShapeCorpus.RandomBackdrop(rng, Backgrounds.Where(c => c != color).ToList());
        var control = new ShapeScene(backdrop, new[] { new ShapeGroup(ShapeKind.Circle, color, size, placement) });
        var target = control with { Groups = new[] { control.Groups[0] with { Color = Palette.Blue } } };
        return (control, target);
    }

    /// <summary>Writes <c>folder/control/recolor_NNN.png</c> and <c>folder/target/recolor_NNN.png</c> + <c>.txt</c>;
    /// returns the target image paths.</summary>
    public static IReadOnlyList<string> Write(string folder, int count, int seed, int size)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"count must be at least 1, got {count}");
        var controlDir = Path.Combine(folder, "control");
        var targetDir = Path.Combine(folder, "target");
        Directory.CreateDirectory(controlDir);
        Directory.CreateDirectory(targetDir);
        var written = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var (control, target) = Scenes(seed, i);
            var name = $"{FilePrefix}_{i:D3}";
            using (var bmp = ShapeRenderer.Render(control, size, size))
                DatasetFolderWriter.WriteAtomically(Path.Combine(controlDir, name + ".png"),
                    RgbaBitmaps.EncodePng(bmp));
            using (var bmp = ShapeRenderer.Render(target, size, size))
                DatasetFolderWriter.WriteAtomically(Path.Combine(targetDir, name + ".png"), RgbaBitmaps.EncodePng(bmp));
            DatasetFolderWriter.WriteAtomically(Path.Combine(targetDir, name + ".txt"),
                System.Text.Encoding.UTF8.GetBytes(Instruction));
            written.Add(Path.Combine(targetDir, name + ".png"));
        }
        return written;
    }
}
