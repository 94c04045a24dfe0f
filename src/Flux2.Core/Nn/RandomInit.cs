using Flux2.Nn.Offload;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>Random weights for speed/memory work and tests (speed and memory do not depend on the values):
/// Linear weights ~ N(0, 1/in) so activations stay O(1) through deep stacks; norms get weight 1, bias 0.
/// A quantized Linear gets its random weight drawn as a float temporary of that one layer and quantized into its
/// storage, so a full-size quantized model is initialized without ever existing in bf16.</summary>
public static class RandomInit
{
    /// <param name="offloaded">Layer offloading's blocks (<see cref="BlockOffloader"/>): each is initialized inside
    /// <see cref="IOffloadedModules.Fill"/>, on the device, at the same point of the walk as any other module. The
    /// random generator therefore sees the same draws in the same order, and the weights equal those of the same model
    /// initialized whole on that device with the same seed.</param>
    public static void Apply(nn.Module model, long seed, IOffloadedModules? offloaded = null)
    {
        using var _ = no_grad();
        manual_seed(seed);
        // TorchSharp's manual_seed seeds the CPU generator only; CUDA draws come from the device generators, so
        // without this two models built on the GPU with the same seed would get different weights.
        if (cuda.is_available()) cuda.manual_seed_all(seed);
        // TorchSharp's named_modules lists a module's children, then each child's subtree in turn; so the modules
        // under an offloaded block come in one run, in the block's own named_modules order: fill it at the first.
        var parts = offloaded is null ? [] : model.named_modules().Where(x => offloaded.IsOffloaded(x.module))
                                                  .Select(x => (Prefix: x.name + ".", Module: x.module)).ToList();
        var filled = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        foreach (var (name, m) in model.named_modules())
        {
            if (offloaded is not null && offloaded.IsOffloaded(m))
            {
                if (Initializes(m)) offloaded.Fill(m, () => Init(m));
                continue;
            }
            var part = parts.FirstOrDefault(p => name.StartsWith(p.Prefix, StringComparison.Ordinal));
            if (part.Module is null) Init(m);
            else if (filled.Add(part.Module)) offloaded!.Fill(part.Module,
                () => { foreach (var (_, sub) in part.Module.named_modules()) Init(sub); });
        }
    }

    static bool Initializes(nn.Module m) => m is Linear or TorchSharp.Modules.GroupNorm;

    static void Init(nn.Module m)
    {
        if (m is Linear lin)
        {
            if (lin.IsQuantized)
            {
                using var w = empty(new[] { lin.OutFeatures, lin.InFeatures }, lin.DType, lin.weight.device)
                    .normal_(0, 1.0 / Math.Sqrt(lin.InFeatures));
                lin.QuantizeFrom(w);
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
