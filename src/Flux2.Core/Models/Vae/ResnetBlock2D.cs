using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>
/// diffusers <c>ResnetBlock2D</c> without time embedding (docs/flux2-model.md §5.2): GN → SiLU → conv3×3 → GN
/// → SiLU → conv3×3, plus a 1×1 <c>conv_shortcut</c> when the channel count changes; residual add, output scale
/// 1. Field names are the checkpoint names (<c>norm1, conv1, norm2, conv2, conv_shortcut</c>).
/// </summary>
public sealed class ResnetBlock2D : nn.Module<Tensor, Tensor>
{
    public readonly long InChannels, OutChannels;
    readonly GroupNorm norm1, norm2;
    readonly Conv2d conv1, conv2;
    readonly Conv2d? conv_shortcut;

    public ResnetBlock2D(long inChannels, long outChannels, int groups, Device? device = null, ScalarType? dtype = null)
        : base(nameof(ResnetBlock2D))
    {
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"ResnetBlock2D: channels {inChannels}->{outChannels} must " +
                $"be multiples of {groups} groups");
        InChannels = inChannels; OutChannels = outChannels;
        norm1 = nn.GroupNorm(groups, inChannels, VaeConfig.GroupNormEps, device: device, dtype: dtype);
        conv1 = nn.Conv2d(inChannels, outChannels, 3, padding: 1, device: device, dtype: dtype);
        norm2 = nn.GroupNorm(groups, outChannels, VaeConfig.GroupNormEps, device: device, dtype: dtype);
        conv2 = nn.Conv2d(outChannels, outChannels, 3, padding: 1, device: device, dtype: dtype);
        if (inChannels != outChannels)
            conv_shortcut = nn.Conv2d(inChannels, outChannels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (x.shape[1] != InChannels)
            throw new ArgumentException($"ResnetBlock2D expects {InChannels} channels, got " +
                $"[{string.Join(", ", x.shape)}]");
        using var scope = NewDisposeScope();
        var h = conv1.forward(nn.functional.silu(norm1.forward(x)));
        h = conv2.forward(nn.functional.silu(norm2.forward(h)));
        var skip = conv_shortcut is null ? x : conv_shortcut.forward(x);
        return (skip + h).MoveToOuterDisposeScope();
    }
}
