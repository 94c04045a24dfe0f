namespace Flux2.Evaluation;

/// <summary>
/// What a LoRA did, on the evaluator's fixed prompts and seeds. Image sets: (a) base + trigger prompt, (b) LoRA +
/// trigger prompt, (c) base without trigger, (d) LoRA without trigger.
/// <list type="bullet">
/// <item><see cref="BaseDistance"/> = <see cref="LookDistance"/>(a, dataset), <see cref="LoraDistance"/> = (b,
/// dataset);</item>
/// <item><see cref="TriggerStrength"/> = 1 − d(b)/d(a): 0 no change, 1 the dataset's look, negative further
/// away;</item>
/// <item><see cref="TriggerChange"/> = mean |b − a| per pixel and channel, in 0..1 units: how much the trigger
/// prompts moved;</item>
/// <item><see cref="Bleed"/> = mean |d − c| the same way: how much prompts without the trigger moved (should stay
/// small);</item>
/// <item><see cref="BleedRatio"/> = Bleed / TriggerChange: the share of the LoRA's effect that leaks past the
/// trigger;</item>
/// <item><see cref="ContentKept"/> = share of (b) images that still show the prompt's content
/// (<see cref="Evaluation.ContentKept"/>); <see cref="BaseContentKept"/> the same on (a), the base model's own
/// level;</item>
/// <item>style LoRAs only (else null): <see cref="HeldOutStrength"/> = trigger strength on
/// <see cref="HeldOutPrompts"/>, whose (class, colour) combinations no dataset caption shows, and
/// <see cref="HeldOutContentKept"/> on their (b) images.</item></list>
/// </summary>
public sealed record LoraEvalResult
{
    public required string Lora { get; init; }
    public required string Model { get; init; }
    public required string Dataset { get; init; }
    public required string Trigger { get; init; }
    public string? ClassWord { get; init; }
    public required LoraEvalOptions Options { get; init; }
    public required IReadOnlyList<EvalPrompt> Prompts { get; init; }
    public required int DatasetImages { get; init; }
    public required double BaseDistance { get; init; }
    public required double LoraDistance { get; init; }
    public required LookDistanceTerms BaseTerms { get; init; }
    public required LookDistanceTerms LoraTerms { get; init; }
    public required double TriggerChange { get; init; }
    public required double Bleed { get; init; }
    /// <summary>Look distance of the no-trigger sets (d) vs (c): bleed measured as a look change rather than
    /// pixels.</summary>
    public required double BleedLookDistance { get; init; }
    public required double Seconds { get; init; }
    public required double ContentKept { get; init; }
    public required double BaseContentKept { get; init; }
    public IReadOnlyList<EvalPrompt>? HeldOutPrompts { get; init; }
    public double? HeldOutBaseDistance { get; init; }
    public double? HeldOutLoraDistance { get; init; }
    public double? HeldOutContentKept { get; init; }

    public double TriggerStrength => BaseDistance > 0 ? 1 - LoraDistance / BaseDistance : 0;
    public double BleedRatio => TriggerChange > 0 ? Bleed / TriggerChange : 0;

    public double? HeldOutStrength => HeldOutBaseDistance is not { } a || HeldOutLoraDistance is not { } b ? null
        : a > 0 ? 1 - b / a : 0;
}
