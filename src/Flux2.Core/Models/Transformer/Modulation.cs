using Flux2.Nn.Quantization;
using Flux2.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.Transformer;

/// <summary>(shift, scale, gate), each [B, 1, D], broadcast over tokens.</summary>
public readonly record struct ModulationParams(Tensor Shift, Tensor Scale, Tensor Gate);

/// <summary>
/// Shared modulation (reference §2.4): computed once per forward from temb and reused by every block of a kind,
/// so blocks themselves hold no modulation weights. mod = Linear(SiLU(temb)) split into sets of (shift, scale, gate).
/// </summary>
public sealed class Modulation : nn.Module
{
    readonly int sets;
    public Linear linear;

    public Modulation(int dim, int sets, Device? device, ScalarType? dtype, QuantType? quant = null) : base(nameof(Modulation))
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
        return Enumerable.Range(0, sets).Select(i => new ModulationParams(chunks[3 * i], chunks[3 * i + 1], chunks[3 * i + 2])).ToArray();
    }
}
