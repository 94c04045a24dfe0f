using Flux2.Data.Synthetic;
using static TorchSharp.torch;

namespace Flux2.Evaluation;

/// <summary>
/// "Is the prompt's content still there?" for one image of an <see cref="EvalPrompt"/>, so that a LoRA which paints
/// its look over everything (or breaks the model) cannot score well on trigger strength alone:
/// <list type="bullet">
/// <item>style prompts (shape groups): every group passes <see cref="SceneCheck"/> with the background not judged
/// (the style replaces it): its colour is found, in the asked cell, with the asked class where the class is
/// judgeable;</item>
/// <item>object prompts: the border still shows the asked background colour, a blob of non-background covering at
/// least <see cref="ObjectMinShare"/> of the image is found (<see cref="SceneCheck.FindForeground"/>; the object's
/// own colours are not known, so any colour away from the background counts), and the centre of its bounding box is
/// on the asked side of the image on both axes: left/right (top/bottom) cells need the centre more than
/// <see cref="MiddleBand"/> of the side away from the middle, middle cells within it. The size word is not
/// judged: its pixel meaning is the dataset's (a "small" sample robot is twice the height of a small corpus
/// shape).</item></list>
/// The share is taken over all (prompt, seed) images.
/// </summary>
public static class ContentKept
{
    public const double ObjectMinShare = 0.01;
    public const double MiddleBand = 0.08;

    public static bool Kept(EvalPrompt prompt, byte[] rgb, int width, int height)
    {
        if (prompt.Content is { } groups)
            return SceneCheck.Check(rgb, width, height, new ShapeScene(Backdrop.Plain, groups)).Passed;
        if (prompt.Object is not { } o)
            throw new ArgumentException($"prompt '{prompt.WithoutTrigger}' says nothing about its content");
        if (SceneCheck.Observe(rgb, width, height).Background != o.Background) return false;
        var blob = SceneCheck.FindForeground(rgb, width, height, o.Background, ObjectMinShare);
        if (blob is null) return false;
        var (fx, fy) = o.Placement.Center();
        return OnSide(fx, (blob.X0 + blob.X1 + 1) / 2.0 / width) && OnSide(fy, (blob.Y0 + blob.Y1 + 1) / 2.0 / height);
    }

    /// <summary>Whether a centre at <paramref name="seen"/> (0..1) is on the side of the image that a cell centred
    /// at <paramref name="asked"/> (0.23, 0.5 or 0.77) is.</summary>
    static bool OnSide(double asked, double seen) =>
        asked < 0.5 ? seen < 0.5 - MiddleBand : asked > 0.5 ? seen > 0.5 + MiddleBand
            : Math.Abs(seen - 0.5) <= MiddleBand;

    /// <summary>The share of images that keep their content. <paramref name="images"/> are ordered seed-major,
    /// [seeds·prompts, 3, H, W] in 0..1, as <see cref="EvalSampler.Generate"/> returns them.</summary>
    public static double Share(IReadOnlyList<EvalPrompt> prompts, Tensor images)
    {
        int n = (int)images.shape[0], height = (int)images.shape[2], width = (int)images.shape[3];
        return Share(prompts, Enumerable.Range(0, n).Select(i =>
        {
            using var one = images[i];
            return BaseModelSanity.ToRgb(one);
        }).ToList(), width, height);
    }

    /// <summary>As above, for packed RGB images in the same seed-major order.</summary>
    public static double Share(IReadOnlyList<EvalPrompt> prompts, IReadOnlyList<byte[]> images, int width, int height)
    {
        if (images.Count == 0 || images.Count % prompts.Count != 0)
            throw new ArgumentException($"{images.Count} images for {prompts.Count} prompts");
        int kept = 0;
        for (int i = 0; i < images.Count; i++)
            if (Kept(prompts[i % prompts.Count], images[i], width, height)) kept++;
        return (double)kept / images.Count;
    }
}
