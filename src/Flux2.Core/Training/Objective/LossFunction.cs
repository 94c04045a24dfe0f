using Flux2.Training.Config;
using static TorchSharp.torch;

namespace Flux2.Training.Objective;

/// <summary>
/// The element-wise training loss and its target (docs/ai-toolkit-compat.md §2.2, §2.5), computed in fp32:
/// mse (v − T)², mae |v − T|, pseudo_huber √((v − T)² + c²) − c (ai-toolkit hard-codes c = 0.01; ours:
/// pseudo_huber_c). Differential Guidance replaces the target by T′ = v + s·(T − v) with v detached: for MSE the
/// gradient is exactly s × the normal one (so with Adam it mostly cancels) and the logged loss grows by s²; for
/// mae/pseudo-Huber the effect is non-linear. Reproduced as ai-toolkit does it, for compatibility.
/// </summary>
public sealed record LossFunction(LossType Type = LossType.Mse, double PseudoHuberC = 0.01,
    double? DifferentialGuidanceScale = null)
{
    public static readonly LossFunction Mse = new();

    public static LossFunction From(TrainConfig train)
        => new(train.LossType, train.PseudoHuberC, train.DoDifferentialGuidance ? train.DifferentialGuidanceScale
            : null);

    /// <summary>Loss per sample [B]: the element-wise loss averaged over every dimension but the first.</summary>
    public Tensor PerSample(Tensor prediction, Tensor target)
    {
        using var scope = NewDisposeScope();
        var v = prediction.to(ScalarType.Float32);
        var t = target.to(ScalarType.Float32);
        if (DifferentialGuidanceScale is { } s)
        {
            var anchor = v.detach();
            t = anchor + s * (t - anchor);
        }
        var diff = v - t;
        var elementwise = Type switch
        {
            LossType.Mae => diff.abs(),
            LossType.PseudoHuber => (diff.square() + PseudoHuberC * PseudoHuberC).sqrt() - PseudoHuberC,
            _ => diff.square(),
        };
        var dims = Enumerable.Range(1, (int)elementwise.dim() - 1).Select(d => (long)d).ToArray();
        return (dims.Length == 0 ? elementwise : elementwise.mean(dims)).MoveToOuterDisposeScope();
    }
}
