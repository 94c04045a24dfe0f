using SkiaSharp;

namespace Flux2.Data.Synthetic;

/// <summary>Which generated set: the style LoRA sample, the object LoRA sample, or plain pretraining corpus
/// scenes.</summary>
public enum SampleDatasetKind { Style, Object, Corpus }

/// <summary>The items of the committed LoRA sample sets (datasets-sample/), each a pure function of (seed, index,
/// size). Captions use ai-toolkit's <c>[trigger]</c> placeholder (docs/ai-toolkit-compat.md §2.6) so the trigger word
/// lives in the job YAML, not in the files.</summary>
public static class SampleDatasets
{
    public const string StyleTrigger = "midnight_tarot", ObjectTrigger = "zorblax";
    const long StyleContentStream = -1;

    /// <summary>Defaults that reproduce the committed sets (see datasets-sample/README.md).</summary>
    public static (int count, int seed, string filePrefix) Defaults(SampleDatasetKind kind) => kind switch
    {
        SampleDatasetKind.Style => (24, 1, StyleTrigger),
        SampleDatasetKind.Object => (20, 1, ObjectTrigger),
        _ => (64, 1, "scene"),
    };

    public static CaptionedImage Item(SampleDatasetKind kind, int seed, int index, int size) => kind switch
    {
        SampleDatasetKind.Style => StyleItem(seed, index, size),
        SampleDatasetKind.Object => ObjectItem(seed, index, size),
        _ => CorpusItem(seed, index, size),
    };

    /// <summary>A pretraining example with its caption (no trigger: this is what the base model is pretrained
    /// on, <see cref="ShapeCorpus.PretrainingItem"/>).</summary>
    public static CaptionedImage CorpusItem(int seed, int index, int size)
    {
        var (scene, caption) = new ShapeCorpus(seed).PretrainingItem(index);
        return new(ShapeRenderer.Render(scene, size, size), caption);
    }

    /// <summary>Varied content in the midnight_tarot look. The caption names only the content: the night sky,
    /// gold frame and outlines are left unsaid so they attach to the trigger (docs/lora-guide.md
    /// §3.2).</summary>
    public static CaptionedImage StyleItem(int seed, int index, int size)
    {
        var content = StyleContent(seed, index);
        return new(MidnightTarotStyle.Render(content, size, size),
            "[trigger] " + SceneCaption.Content(content));
    }

    /// <summary>The shapes of style item <paramref name="index"/>: a corpus scene from the style set's own stream
    /// (not the corpus's scenes for this seed); its background is not drawn.</summary>
    public static ShapeScene StyleContent(int seed, int index) =>
        new ShapeCorpus(SeedMixer.Mix(seed, StyleContentStream)).Sample(index);

    /// <summary>The zorblax robot at a random size, place and background. Caption: trigger + class word, then the
    /// things that vary (so they do not become part of what the trigger means).</summary>
    public static CaptionedImage ObjectItem(int seed, int index, int size)
    {
        var rng = SeedMixer.RandomFor(seed, index);
        var robotSize = Enum.GetValues<ShapeSize>()[rng.Next(3)];
        var placement = Enum.GetValues<Placement>()[rng.Next(9)];
        var backdrop = ShapeCorpus.RandomBackdrop(rng, ZorblaxRobot.Backgrounds);

        var bitmap = RgbaBitmaps.FromRgba(BackdropPainter.Paint(backdrop, size, size), size, size);
        using (var canvas = new SKCanvas(bitmap))
        {
            int h = (int)Math.Round(ZorblaxRobot.HeightFraction(robotSize) * size),
                w = (int)Math.Round(ZorblaxRobot.WidthRatio * h);
            var (fx, fy) = placement.Center();
            int margin = ShapeRenderer.BorderMargin;
            float x = Math.Clamp((int)Math.Round(fx * size), margin + w / 2, size - margin - w / 2);
            float y = Math.Clamp((int)Math.Round(fy * size), margin + h / 2, size - margin - h / 2);
            ZorblaxRobot.Draw(canvas, x, y, h);
            canvas.Flush();
        }
        var caption =
            $"[trigger] {ZorblaxRobot.ClassWord}, {robotSize.Word()}, {placement.Phrase()}, {backdrop.Phrase}";
        return new(bitmap, caption);
    }
}
