using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Data;
using static TorchSharp.torch;

namespace Flux2.Training.Previews;

/// <summary>
/// Sample images during training (docs/ai-toolkit-compat.md §2.12): each prompt with <c>[trigger]</c> replaced, seed
/// (+ index with walk_seed), guidance_scale, sample_steps (a <c>samples[]</c> item's own seed, guidance_scale,
/// sample_steps and neg win), width/height snapped down to the model's pixel multiple,
/// rendered with the LoRA on. A prompt that mentions the trigger is rendered a second time without it (same seed), so
/// every grid shows what the trigger adds. A model sampled with true classifier-free guidance
/// (<see cref="Flux2Models.SamplesWithTrueCfg"/>: [klein] base, FLUX.2-micro) gets <c>sample.neg</c> (default: the
/// empty prompt) as its negative. One PNG per sampling step, <c>samples/&lt;step:09d&gt;.png</c>: a row per
/// prompt, columns "as written" and "without trigger" (grey where a prompt has no trigger), plus a .txt naming the
/// rows.
/// </summary>
public sealed class SampleGrid(Flux2Models models, SampleConfig config, string? trigger, string folder)
{
    readonly Dictionary<string, Tensor> embeds = new();

    public IReadOnlyList<(string withTrigger, string? withoutTrigger)> Rows { get; } = config.AllPrompts
        .Select(p => (CaptionRules.InjectTrigger(p, trigger, addIfMissing: false),
                      CaptionRules.MentionsTrigger(p, trigger) ? CaptionRules.WithoutTrigger(p, trigger) : null))
        .ToList();

    public SampleReport? Render(int step)
    {
        if (Rows.Count == 0) return null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        var pipe = models.Pipeline;
        int f = pipe.PixelsPerToken;
        int width = Math.Max(f, config.Width / f * f), height = Math.Max(f, config.Height / f * f);
        bool twoColumns = Rows.Any(r => r.withoutTrigger is not null);
        var device = models.Transformer.Device;
        var rows = new List<Tensor>();
        var items = config.AllItems;
        var seeds = config.ItemSeeds();
        for (int i = 0; i < Rows.Count; i++)
        {
            long seed = seeds[i];
            var cells = new List<Tensor> { Render(Rows[i].withTrigger, items[i], seed, width, height, device) };
            if (twoColumns)
                cells.Add(Rows[i].withoutTrigger is { } plain ? Render(plain, items[i], seed, width, height, device)
                    : full(new long[] { 3, height, width }, 0.5f));
            rows.Add(cat(cells, 2));
        }
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{step:D9}.png");
        ImageFile.SavePng(cat(rows, 1), path);
        File.WriteAllLines(Path.ChangeExtension(path, ".txt"), Rows.Select((r, i) =>
            $"row {i}: seed {seeds[i]} | {r.withTrigger}" +
                (r.withoutTrigger is null ? "" : $" | without trigger: {r.withoutTrigger}")));
        var prompts = Rows.SelectMany(r => r.withoutTrigger is null ? new[] { r.withTrigger }
            : new[] { r.withTrigger, r.withoutTrigger }).ToList();
        return new SampleReport(step, path, prompts, clock.Elapsed.TotalSeconds);
    }

    /// <summary>One cell: <paramref name="item"/>'s own guidance_scale, sample_steps and neg where it sets
    /// them.</summary>
    Tensor Render(string prompt, SampleItem item, long seed, int width, int height, Device device)
    {
        using var _ = no_grad();
        var negative = models.SamplesWithTrueCfg ? Embeds(item.Neg ?? config.Neg) : null;
        var noise = models.Pipeline.InitialNoise(1, height, width, seed, device);
        return models.Pipeline.Generate(Embeds(prompt), noise, item.SampleSteps ?? config.SampleSteps,
            (float)(item.GuidanceScale ?? config.GuidanceScale), negativeEmbeds: negative)[0].cpu();
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
