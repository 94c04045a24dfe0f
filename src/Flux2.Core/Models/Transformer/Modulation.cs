using Flux2.Nn;
using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using F = Flux2.Nn.Functional;

namespace Flux2.Models.Transformer;

/// <summary>(shift, scale, gate), each [B, 1, D], broadcast over tokens.</summary>
public readonly record struct ModulationParams(Tensor Shift, Tensor Scale, Tensor Gate)
{
    /// <summary>The sets' tensors in order: shift, scale, gate of the first set, then of the next.</summary>
    public static IEnumerable<Tensor> Flatten(IEnumerable<ModulationParams> sets) =>
        sets.SelectMany(m => new[] { m.Shift, m.Scale, m.Gate });

    /// <summary><paramref name="count"/> sets read back from <paramref name="t"/> at <paramref name="start"/>
    /// (the inverse of <see cref="Flatten"/>).</summary>
    public static ModulationParams[] Unflatten(IReadOnlyList<Tensor> t, int start, int count) =>
        Enumerable.Range(0, count).Select(i => start + 3 * i)
                  .Select(j => new ModulationParams(t[j], t[j + 1], t[j + 2])).ToArray();
}

/// <summary>
/// Shared modulation: computed once per forward from temb and reused by every block of a kind,
/// so blocks themselves hold no modulation weights. mod = Linear(SiLU(temb)) split into sets of (shift, scale, gate).
/// </summary>
public sealed class Modulation : nn.Module
{
    readonly int sets;
    public Linear linear;

    public Modulation(int dim, int sets, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(Modulation))
    {
        this.sets = sets;
        linear = new Linear(dim, 3 * sets * dim, device: device, dtype: dtype, quant: quant);
        RegisterComponents();
    }

    public ModulationParams[] Forward(Tensor temb)
    {
        using var act = nn.functional.silu(temb);
        using var mod = linear.forward(act).unsqueeze(1);
        var chunks = mod.chunk(3 * sets, -1);
        return ModulationParams.Unflatten(chunks, 0, sets);
    }
}

/// <summary>Final adaLN (diffusers <c>AdaLayerNormContinuous</c>): e = Linear(SiLU(temb)) split as (scale, shift).
/// The BFL checkpoint stores the halves as (shift, scale); its converter swaps them on load.</summary>
public sealed class AdaLayerNormOut : nn.Module
{
    readonly double eps;
    public Linear linear;

    public AdaLayerNormOut(int dim, double eps, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(AdaLayerNormOut))
    {
        this.eps = eps;
        linear = new Linear(dim, 2 * dim, device: device, dtype: dtype, quant: quant);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var e = linear.forward(nn.functional.silu(temb)).chunk(2, 1);
        return F.Modulate(F.LayerNormNoAffine(x, eps), e[1].unsqueeze(1), e[0].unsqueeze(1)).MoveToOuterDisposeScope();
    }
}
