using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>Random weights for speed/memory work and tests (design.md: random weights are fine for both):
/// Linear weights ~ N(0, 1/in) so activations stay O(1) through deep stacks; norms get weight 1, bias 0.</summary>
public static class RandomInit
{
    public static void Apply(nn.Module model, long seed)
    {
        using var _ = no_grad();
        manual_seed(seed);
        foreach (var (_, m) in model.named_modules())
            if (m is Linear lin)
            {
                lin.weight.normal_(0, 1.0 / Math.Sqrt(lin.InFeatures));
                lin.bias?.zero_();
            }
            // TorchSharp's nn.GroupNorm leaves its affine weight/bias uninitialized (torch.empty memory: garbage up
            // to 1e38, different on every run); PyTorch starts them at ones/zeros; do the same.
            else if (m is TorchSharp.Modules.GroupNorm gn)
            {
                gn.weight?.fill_(1);
                gn.bias?.zero_();
            }
    }
}
