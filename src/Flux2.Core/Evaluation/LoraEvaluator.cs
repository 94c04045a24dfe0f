using System.Diagnostics;
using Flux2.Lora;
using Flux2.Pipeline;
using static TorchSharp.torch;

namespace Flux2.Evaluation;

/// <summary>
/// Measures what a LoRA did: on <see cref="EvalPrompts"/> and fixed seeds, generates (a) base + trigger,
/// (b) LoRA + trigger, (c) base without trigger, (d) LoRA without trigger, and reduces them to trigger strength
/// (does the trigger bring the dataset's look?), bleed (do prompts without it change?) and content kept (do the
/// trigger images still show what the prompt asked, <see cref="Evaluation.ContentKept"/>); style LoRAs are also
/// measured on held-out prompts (<see cref="EvalPrompts.HeldOutStyle"/>). See
/// <see cref="LoraEvalResult"/> for the definitions. The LoRA is attached to <paramref name="models"/> only while
/// (b) and (d) are generated and removed afterwards, so the models are left as they were given.
/// </summary>
public static class LoraEvaluator
{
    public static LoraEvalResult Evaluate(Flux2Models models, string loraPath, string datasetFolder, string trigger,
                                          LoraEvalOptions? options = null, Action<string>? log = null,
                                          Action<EvalImages>? images = null, BaseImageCache? baseImages = null)
    {
        options ??= new LoraEvalOptions();
        if (string.IsNullOrWhiteSpace(trigger)) throw new UserError("eval needs the LoRA's trigger word (--trigger)");
        if (options.Seeds < 1 || options.Steps < 1)
            throw new UserError($"eval needs at least one seed and one step (got {options.Seeds} seeds, " +
                                $"{options.Steps} steps)");
        var clock = Stopwatch.StartNew();
        var classWord = options.ClassWord ?? EvalPrompts.ClassWordOf(datasetFolder);
        var prompts = EvalPrompts.For(trigger, classWord);
        var dataset = DatasetLook.Load(datasetFolder, options.Width, options.Height);
        log?.Invoke($"eval: {prompts.Count} prompts x {options.Seeds} seeds, {options.Width}x{options.Height}, " +
            $"{options.Steps} steps, guidance {options.Guidance}; " +
                    (classWord is null ? "style set" : $"object set, class word '{classWord}'") +
                        $"; {dataset.Count} dataset images");

        using var scope = NewDisposeScope();
        var triggeredTexts = prompts.Select(p => p.WithTrigger).ToList();
        var plainTexts = prompts.Select(p => p.WithoutTrigger).ToList();
        var triggered = models.EncodePrompts(triggeredTexts);
        var plain = models.EncodePrompts(plainTexts);
        var negative = models.NegativeEmbedsForGuidance();

        // Held-out style prompts: the same base / LoRA pair, with the trigger, on unseen (class, colour) content.
        var heldOut = classWord is null ? EvalPrompts.HeldOutStyle(trigger, datasetFolder) : null;
        var heldTexts = heldOut?.Select(p => p.WithTrigger).ToList();
        var heldEmbeds = heldTexts is null ? null : models.EncodePrompts(heldTexts);

        Tensor Base(string what, IReadOnlyList<string> texts, Tensor embeds) => baseImages is null
            ? EvalSampler.Generate(models, embeds, negative, options, log, what)
            : baseImages.GetOrAdd(models, what, texts, options,
                () => EvalSampler.Generate(models, embeds, negative, options, log, what));
        var a = Base("base, trigger", triggeredTexts, triggered);
        var c = Base("base, no trigger", plainTexts, plain);
        var aHeld = heldEmbeds is null ? null : Base("held-out, base, trigger", heldTexts!, heldEmbeds);
        // The LoRA is loaded once; every noise draw is seeded per call, so the order of the sets changes no image.
        var adapters = LoraLoader.Apply(models.Transformer, loraPath, options.LoraStrength);
        Tensor b, d;
        Tensor? bHeld = null;
        try
        {
            b = EvalSampler.Generate(models, triggered, negative, options, log, "LoRA, trigger");
            d = EvalSampler.Generate(models, plain, negative, options, log, "LoRA, no trigger");
            if (heldEmbeds is not null)
                bHeld = EvalSampler.Generate(models, heldEmbeds, negative, options, log, "held-out, LoRA, trigger");
        }
        finally { LoraLoader.Remove(models.Transformer, adapters); }
        images?.Invoke(new EvalImages(a, b, c, d));

        var look = ImageStatistics.Average(dataset);
        var aLook = ImageStatistics.Average(EvalSampler.Describe(a));
        var bLook = ImageStatistics.Average(EvalSampler.Describe(b));
        var baseTerms = LookDistance.Terms(aLook, look);
        var loraTerms = LookDistance.Terms(bLook, look);
        return new LoraEvalResult
        {
            Lora = loraPath,
            Model = models.Origin,
            Dataset = datasetFolder,
            Trigger = trigger,
            ClassWord = classWord,
            Options = options,
            Prompts = prompts,
            DatasetImages = dataset.Count,
            BaseDistance = baseTerms.Total,
            LoraDistance = loraTerms.Total,
            BaseTerms = baseTerms,
            LoraTerms = loraTerms,
            TriggerChange = EvalSampler.MeanAbsDifference(b, a),
            Bleed = EvalSampler.MeanAbsDifference(d, c),
            BleedLookDistance = LookDistance.Between(EvalSampler.Describe(d), EvalSampler.Describe(c)),
            ContentKept = ContentKept.Share(prompts, b),
            BaseContentKept = ContentKept.Share(prompts, a),
            HeldOutPrompts = heldOut,
            HeldOutBaseDistance = aHeld is null ? null : LookDistance.Between(EvalSampler.Describe(aHeld), dataset),
            HeldOutLoraDistance = bHeld is null ? null : LookDistance.Between(EvalSampler.Describe(bHeld), dataset),
            HeldOutContentKept = bHeld is null ? null : ContentKept.Share(heldOut!, bHeld),
            Seconds = clock.Elapsed.TotalSeconds,
        };
    }
}
