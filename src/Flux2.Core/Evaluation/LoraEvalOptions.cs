using Flux2.Models;

namespace Flux2.Evaluation;

/// <summary>How the evaluator samples. Defaults suit FLUX.2-micro (its native 128², the sample settings of the
/// datasets-sample jobs); every image pair (base vs LoRA) shares its noise, so differences come from the LoRA
/// only.</summary>
public sealed record LoraEvalOptions
{
    public int Width { get; init; } = MicroModel.Resolution;
    public int Height { get; init; } = MicroModel.Resolution;
    public int Steps { get; init; } = 20;
    public float Guidance { get; init; } = 4f;
    /// <summary>How many noise seeds per prompt: seeds FirstSeed, FirstSeed+1, ...</summary>
    public int Seeds { get; init; } = 4;
    public long FirstSeed { get; init; } = 1000;
    /// <summary>The LoRA's strength multiplier while generating (b) and (d).</summary>
    public double LoraStrength { get; init; } = 1.0;
    /// <summary>Object sets: the class word; null = detect from the dataset captions
    /// (<see cref="EvalPrompts.ClassWordOf"/>).</summary>
    public string? ClassWord { get; init; }
}
