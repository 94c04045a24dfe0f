using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>RMSNorm with a learnable weight, computed in fp32 and cast back (docs/flux2-model.md §2.7: BFL QKNorm;
/// Mistral's RMSNorm does the same).</summary>
public sealed class RMSNorm : nn.Module<Tensor, Tensor>
{
    readonly double eps;
    public Parameter weight;

    public RMSNorm(long dim, double eps, Device? device = null, ScalarType? dtype = null) : base(nameof(RMSNorm))
    {
        this.eps = eps;
        weight = new Parameter(ones(new[] { dim }, dtype ?? ScalarType.Float32, device), requires_grad: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xf = x.to(ScalarType.Float32);
        // square(), not pow(2): the same x·x, without a temporary Scalar handle that a finalizer could free during the
        // native call.
        var normed = xf * rsqrt(xf.square().mean(new long[] { -1 }, keepdim: true) + eps);
        return (normed.to(x.dtype) * weight.to(x.dtype)).MoveToOuterDisposeScope();
    }
}

public static class Functional
{
    /// <summary>LayerNorm over the last dim with no affine parameters (FLUX.2 blocks, eps 1e-6).</summary>
    public static Tensor LayerNormNoAffine(Tensor x, double eps) =>
        nn.functional.layer_norm(x, new[] { x.shape[^1] }, null, null, eps);

    /// <summary>adaLN modulation: (1 + scale) · LN(x) + shift.</summary>
    public static Tensor Modulate(Tensor normed, Tensor shift, Tensor scale) => normed * (1 + scale) + shift;
}
