using Flux2.Data.Synthetic;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 synth-dataset</c>: regenerates the procedural datasets (the committed LoRA samples in
/// datasets-sample/, or pretraining corpus scenes) as PNG + same-name .txt caption pairs.</summary>
public static class DatasetsCommand
{
    /// <summary>The largest side of a generated image: the shapes are drawn at full size in memory, and a training
    /// image larger than this is never needed.</summary>
    const int MaxSize = 4096;

    public const string Help = """
        ./flux2 synth-dataset <style|object|corpus|edit> --out <dir> [--count N] [--seed S] [--size 128]
          style   midnight_tarot style set (default 24 images): varied shapes in a night-sky/gold look,
                  captions "[trigger] <content>" that leave the style undescribed
          object  zorblax robot set (default 20 images): one invented character, varied size/place/background,
                  captions "[trigger] robot, <size>, <place>, <background>"
          corpus  pretraining scenes (default 64), captions in plain English, no trigger
          edit    recolor_edit instruction pairs (default 16): <out>/control/ a circle in some colour, <out>/target/
                  the same scene with the circle blue, caption "make the circle blue" (control_path dataset)
          Defaults (seed 1, size 128) reproduce datasets-sample/ byte for byte. Files are written atomically;
          existing files with other names in --out are left alone.
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var name = args.Positional(0, "a dataset kind (style, object, corpus, edit)");
        SampleDatasetKind? kind = name switch
        {
            "style" => SampleDatasetKind.Style,
            "object" => SampleDatasetKind.Object,
            "corpus" => SampleDatasetKind.Corpus,
            "edit" => null,
            var k => throw new UserError($"synth-dataset: unknown kind '{k}' (known: style, object, corpus, edit)"),
        };
        var defaults = kind is { } known ? SampleDatasets.Defaults(known)
            : (RecolorEditPairs.DefaultCount, RecolorEditPairs.DefaultSeed, RecolorEditPairs.FilePrefix);
        var folder = args.Get("out") ?? throw new UserError("synth-dataset: --out <dir> is required");
        int count = args.Int("count", defaults.Item1, 1, 1_000_000), seed = args.Int("seed", defaults.Item2),
            size = args.Int("size", 128, 32, MaxSize);
        args.EnsureAllUsed();
        if (count < 1) throw new UserError($"synth-dataset: --count must be at least 1, got {count}");
        if (size < 32 || size % 16 != 0)
            throw new UserError($"synth-dataset: --size must be a multiple of 16 and at least 32, got {size}");
        if (kind is null)
        {
            var pairs = RecolorEditPairs.Write(folder, count, seed, size);
            o.WriteLine($"wrote {pairs.Count} {size}x{size} edit pairs (control/ + target/, " +
                $"\"{RecolorEditPairs.Instruction}\", seed {seed}) to {Path.GetFullPath(folder)}");
            return 0;
        }

        var written = DatasetFolderWriter.Write(kind.Value, folder, count, seed, size);
        o.WriteLine($"wrote {written.Count} {size}x{size} images + captions " +
            $"({kind.Value.ToString().ToLowerInvariant()}, seed {seed}) to {Path.GetFullPath(folder)}");
        return 0;
    }
}
