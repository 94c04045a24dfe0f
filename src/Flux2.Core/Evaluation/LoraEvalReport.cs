using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Flux2.Evaluation;

/// <summary>Writes a <see cref="LoraEvalResult"/> as a table (console and <c>eval.md</c>) and as <c>eval.json</c>
/// (what notebooks read to plot strength and bleed against rank, LR, steps, DOP). Files are written atomically:
/// a half-written eval.json would poison every later comparison.</summary>
public static class LoraEvalReport
{
    public const string JsonFileName = "eval.json";
    public const string MarkdownFileName = "eval.md";

    static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    public static string Table(LoraEvalResult r)
    {
        var s = new StringBuilder();
        s.AppendLine("| metric | value | meaning |");
        s.AppendLine("|---|---|---|");
        s.AppendLine($"| look distance, base + trigger (a) | {F(r.BaseDistance)} | dataset look vs base model |");
        s.AppendLine($"| look distance, LoRA + trigger (b) | {F(r.LoraDistance)} | dataset look vs LoRA |");
        s.AppendLine($"| **trigger strength** | **{F(r.TriggerStrength)}** | 1 − b/a: 0 no change, 1 dataset look |");
        s.AppendLine($"| trigger change | {F(r.TriggerChange)} | mean abs pixel change (b vs a), 0..1 |");
        s.AppendLine($"| **bleed** | **{F(r.Bleed)}** | mean abs pixel change without trigger (d vs c), 0..1 |");
        s.AppendLine($"| bleed ratio | {F(r.BleedRatio)} | bleed / trigger change |");
        s.AppendLine($"| bleed look distance | {F(r.BleedLookDistance)} | look distance d vs c |");
        s.AppendLine($"| **content kept** | **{F(r.ContentKept)}** | share of (b) images still showing the " +
            "prompt's colours, places, classes |");
        s.AppendLine($"| content kept, base | {F(r.BaseContentKept)} | the same on (a) |");
        if (r.HeldOutStrength is { } held)
        {
            s.AppendLine($"| held-out strength | {F(held)} | trigger strength on {r.HeldOutPrompts!.Count} prompts " +
                "with (class, colour) pairs absent from the dataset |");
            s.AppendLine($"| held-out content kept | {F(r.HeldOutContentKept ?? 0)} | content kept on those |");
        }
        return s.ToString();
    }

    /// <summary>The table with a heading that says what was measured and how.</summary>
    public static string Markdown(LoraEvalResult r)
    {
        var o = r.Options;
        var s = new StringBuilder();
        s.AppendLine($"# LoRA eval: {Path.GetFileName(r.Lora)}");
        s.AppendLine();
        s.AppendLine($"model `{r.Model}`, dataset `{r.Dataset}` ({r.DatasetImages} images), trigger `{r.Trigger}`" +
                     (r.ClassWord is null ? ", style prompts" : $", object prompts (class word `{r.ClassWord}`)"));
        s.AppendLine($"{r.Prompts.Count} prompts x {o.Seeds} seeds (from {o.FirstSeed}), {o.Width}x{o.Height}, " +
            $"{o.Steps} steps, guidance {o.Guidance.ToString(CultureInfo.InvariantCulture)}, LoRA strength " +
            $"{o.LoraStrength.ToString(CultureInfo.InvariantCulture)}; " +
            $"{r.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        s.AppendLine();
        s.Append(Table(r));
        s.AppendLine();
        s.AppendLine("Look distance = ½·L1 of the average 4×4×4 colour histograms + mean |Δ| channel means " +
            "+ mean |Δ| channel stds + |Δ| edge energy.");
        s.AppendLine();
        s.AppendLine("Prompts (with trigger / without):");
        foreach (var p in r.Prompts) s.AppendLine($"- `{p.WithTrigger}` / `{p.WithoutTrigger}`");
        if (r.HeldOutPrompts is { } held)
        {
            s.AppendLine();
            s.AppendLine("Held-out prompts (class and colour pairs absent from the dataset's captions):");
            foreach (var p in held) s.AppendLine($"- `{p.WithTrigger}`");
        }
        return s.ToString();
    }

    public static string Json(LoraEvalResult r) => JsonSerializer.Serialize(new
    {
        lora = r.Lora,
        model = r.Model,
        dataset = r.Dataset,
        trigger = r.Trigger,
        class_word = r.ClassWord,
        trigger_strength = r.TriggerStrength,
        bleed = r.Bleed,
        bleed_ratio = r.BleedRatio,
        trigger_change = r.TriggerChange,
        base_distance = r.BaseDistance,
        lora_distance = r.LoraDistance,
        bleed_look_distance = r.BleedLookDistance,
        content_kept = r.ContentKept,
        base_content_kept = r.BaseContentKept,
        held_out_strength = r.HeldOutStrength,
        held_out_base_distance = r.HeldOutBaseDistance,
        held_out_lora_distance = r.HeldOutLoraDistance,
        held_out_content_kept = r.HeldOutContentKept,
        held_out_prompts = r.HeldOutPrompts?.Select(p => p.WithTrigger),
        base_terms = Terms(r.BaseTerms),
        lora_terms = Terms(r.LoraTerms),
        options = new
        {
            width = r.Options.Width,
            height = r.Options.Height,
            steps = r.Options.Steps,
            guidance = r.Options.Guidance,
            seeds = r.Options.Seeds,
            first_seed = r.Options.FirstSeed,
            lora_strength = r.Options.LoraStrength
        },
        dataset_images = r.DatasetImages,
        seconds = r.Seconds,
        prompts = r.Prompts.Select(p => new { with_trigger = p.WithTrigger, without_trigger = p.WithoutTrigger }),
    }, new JsonSerializerOptions { WriteIndented = true });

    static object Terms(LookDistanceTerms t) => new
    {
        histogram = t.Histogram,
        mean = t.Mean,
        std = t.Std,
        edges = t.Edges,
        total = t.Total
    };

    /// <summary>Writes eval.json and eval.md into <paramref name="folder"/>; returns their paths.</summary>
    public static (string json, string markdown) Write(LoraEvalResult r, string folder)
    {
        Directory.CreateDirectory(folder);
        var json = Path.Combine(folder, JsonFileName);
        var md = Path.Combine(folder, MarkdownFileName);
        WriteAtomically(json, Json(r));
        WriteAtomically(md, Markdown(r));
        return (json, md);
    }

    static void WriteAtomically(string path, string text)
    {
        var tmp = Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + ".tmp");
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
