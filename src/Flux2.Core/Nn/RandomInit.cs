using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>Random weights for speed/memory work and tests (design.md: random weights are fine for both):
/// Linear weights ~ N(0, 1/in) so activations stay O(1) through deep stacks; norms keep their ones.</summary>
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
            else if (m is TorchSharp.Modules.GroupNorm gn)
            {
                // TorchSharp 0.107 can leave GroupNorm's affine parameters uninitialized (values up to 1e29 were seen
                // in the tiny-random VAE, which then encoded every image to NaN); PyTorch's init is ones/zeros.
                gn.weight?.fill_(1);
                gn.bias?.zero_();
            }
    }
}
