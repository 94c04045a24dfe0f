using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Data;
using Flux2.Training.Network;
using static TorchSharp.torch;

namespace Flux2.Training.Previews;

/// <summary>
/// Sample images during training (docs/ai-toolkit-compat.md §2.12): each prompt with <c>[trigger]</c> replaced, seed
/// (+ index with walk_seed), guidance_scale, sample_steps, width/height snapped down to the model's pixel multiple,
/// network_multiplier (the LoRA's strength), rendered with the LoRA on; a <c>samples[]</c> item's own seed,
/// guidance_scale, sample_steps, neg, width, height and network_multiplier win, and its ctrl_img_1..3 are reference
/// images (read as the generate command's --reference: at most 1 MP, center-cropped to multiples of 16). A prompt
/// that mentions the trigger is rendered a second time without it (same seed), so every grid shows what the trigger
/// adds. A model sampled with true classifier-free guidance (<see cref="Flux2Models.SamplesWithTrueCfg"/>: [klein]
/// base, FLUX.2-micro) gets <c>sample.neg</c> (default: the empty prompt) as its negative. One PNG per sampling step,
/// <c>samples/&lt;step:09d&gt;.png</c>: a row per prompt, columns "as written" and "without trigger" (grey where a
/// prompt has no trigger; rows of different sizes are left-aligned on grey), plus a .txt naming the rows.
/// </summary>
public sealed class SampleGrid
{
    readonly Dictionary<string, Tensor> embeds = new();
    readonly Flux2Models models;
    readonly SampleConfig config;
    readonly string folder;
    /// <summary>The trained network whose strength network_multiplier sets; null: the base model alone.</summary>
    readonly LoraNetwork? network;

    /// <param name="sectionPath">where the sample section sits in the job file, for messages about its
    /// items.</param>
    public SampleGrid(Flux2Models models, SampleConfig config, string? trigger, string folder,
        LoraNetwork? network = null, string sectionPath = "sample")
    {
        this.models = models;
        this.config = config;
        this.folder = folder;
        this.network = network;
        Rows = config.AllPrompts
            .Select(p => (CaptionRules.InjectTrigger(p, trigger, addIfMissing: false),
                          CaptionRules.MentionsTrigger(p, trigger) ? CaptionRules.WithoutTrigger(p, trigger) : null))
            .ToList();
        int pixels = models.Pipeline.PixelsPerToken;
        foreach (var (item, i) in config.Samples.Select((s, i) => (s, i)))
            foreach (var (image, k) in new[] { item.CtrlImg1, item.CtrlImg2, item.CtrlImg3 }.Select((c, k) => (c, k)))
                if (image is { Length: > 0 } && ImageFileCheck.Size(image, pixels, out var why) is null)
                    throw new UserError($"{sectionPath}.samples[{i}].ctrl_img_{k + 1} {image}: {why}; fix the path");
        if (network is null && config.AllItems.Any(s => Multiplier(s) != 1))
            throw new ArgumentException("network_multiplier needs the network to scale", nameof(network));
    }

    public IReadOnlyList<(string withTrigger, string? withoutTrigger)> Rows { get; }

    /// <summary>The LoRA strength <paramref name="item"/> is drawn at: its own network_multiplier, else the
    /// section's.</summary>
    double Multiplier(SampleItem item) => item.NetworkMultiplier ?? config.NetworkMultiplier;

    public SampleReport? Render(int step)
    {
        if (Rows.Count == 0) return null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        int f = models.Pipeline.PixelsPerToken;
        bool twoColumns = Rows.Any(r => r.withoutTrigger is not null);
        var rows = new List<Tensor>();
        var items = config.AllItems;
        var seeds = config.ItemSeeds();
        var sizes = items.Select(s => (w: Math.Max(f, (s.Width ?? config.Width) / f * f),
                                       h: Math.Max(f, (s.Height ?? config.Height) / f * f))).ToList();
        try
        {
            for (int i = 0; i < Rows.Count; i++)
            {
                long seed = seeds[i];
                var (width, height) = sizes[i];
                network?.SetMultipliers([Multiplier(items[i])]);
                var refs = items[i].CtrlImages.Select(c => ImageFile.Load(c, maxPixels: 1024 * 1024)).ToList();
                var cells = new List<Tensor> { Render(Rows[i].withTrigger, items[i], seed, width, height, refs) };
                if (twoColumns)
                    cells.Add(Rows[i].withoutTrigger is { } plain ? Render(plain, items[i], seed, width, height, refs)
                        : full(new long[] { 3, height, width }, 0.5f));
                rows.Add(cat(cells, 2));
            }
        }
        finally { network?.SetMultipliers([1.0]); }
        long gridWidth = rows.Max(r => r.shape[2]);
        var padded = rows.Select(r => r.shape[2] == gridWidth ? r
            : cat(new[] { r, full(new[] { 3, r.shape[1], gridWidth - r.shape[2] }, 0.5f) }, 2)).ToList();
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{step:D9}.png");
        ImageFile.SavePng(cat(padded, 1), path);
        File.WriteAllLines(Path.ChangeExtension(path, ".txt"), Rows.Select((r, i) =>
            $"row {i}: seed {seeds[i]} | {r.withTrigger}" +
                (r.withoutTrigger is null ? "" : $" | without trigger: {r.withoutTrigger}") +
                (sizes[i] == sizes[0] ? "" : $" | {sizes[i].w}x{sizes[i].h}") +
                Multiplier(items[i]) switch
                {
                    1.0 => "",
                    var m => $" | network_multiplier {m.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
                } +
                (items[i].CtrlImages.Count == 0 ? "" : $" | references: {string.Join(", ", items[i].CtrlImages)}")));
        var prompts = Rows.SelectMany(r => r.withoutTrigger is null ? new[] { r.withTrigger }
            : new[] { r.withTrigger, r.withoutTrigger }).ToList();
        return new SampleReport(step, path, prompts, clock.Elapsed.TotalSeconds);
    }

    /// <summary>One cell: <paramref name="item"/>'s own guidance_scale, sample_steps and neg where it sets them, its
    /// reference images <paramref name="refs"/> ([3, H, W] in −1..1).</summary>
    Tensor Render(string prompt, SampleItem item, long seed, int width, int height, IReadOnlyList<Tensor> refs)
    {
        using var _ = no_grad();
        var negative = models.SamplesWithTrueCfg ? Embeds(item.Neg ?? config.Neg) : null;
        var noise = models.Pipeline.InitialNoise(1, height, width, seed, models.Transformer.Device);
        return models.Pipeline.Generate(Embeds(prompt), noise, item.SampleSteps ?? config.SampleSteps,
            (float)(item.GuidanceScale ?? config.GuidanceScale), refs, negativeEmbeds: negative)[0].cpu();
    }

    /// <summary>Prompt embeds, encoded once per prompt for the whole run.</summary>
    Tensor Embeds(string prompt)
    {
        if (!embeds.TryGetValue(prompt, out var e))
        {
            e = models.EncodePrompts(new[] { prompt });
            e.DetachFromDisposeScope();
            embeds[prompt] = e;
        }
        return e;
    }
}
