using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>Random weights for speed/memory work and tests (design.md: random weights are fine for both):
/// Linear weights ~ N(0, 1/in) so activations stay O(1) through deep stacks; norms get weight 1, bias 0.
/// A quantized Linear gets its random weight drawn as a float temporary of that one layer and quantized into its
/// storage, so a full-size quantized model is initialized without ever existing in bf16.</summary>
public static class RandomInit
{
    public static void Apply(nn.Module model, long seed)
    {
        using var _ = no_grad();
        manual_seed(seed);
        // TorchSharp's manual_seed seeds the CPU generator only; CUDA draws come from the device generators, so
        // without this two models built on the GPU with the same seed would get different weights.
        if (cuda.is_available()) cuda.manual_seed_all(seed);
        foreach (var (_, m) in model.named_modules())
            if (m is Linear lin)
            {
                if (lin.Quant is { } quant)
                {
                    using var w = empty(lin.weight.shape, lin.DType, lin.weight.device).normal_(0, 1.0 / Math.Sqrt(lin.InFeatures));
                    QuantizedWeight.QuantizeInto(w, lin.weight, lin.weight_scale!, quant);
                }
                else lin.weight.normal_(0, 1.0 / Math.Sqrt(lin.InFeatures));
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
