using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>
/// diffusers VAE <c>Encoder</c> (docs/flux2-model.md §5.2): <c>conv_in</c> 3×3 → <c>down_blocks</c> (downsample on
/// all but the last level) → <c>mid_block</c> → <c>conv_norm_out</c> → SiLU → <c>conv_out</c> 3×3 to 2·latent
/// channels (mean, logvar). Image [B, in, H, W] → moments [B, 2·latent, H/f, W/f], f = 2^(levels-1).
/// </summary>
public sealed class Encoder : nn.Module<Tensor, Tensor>
{
    readonly VaeConfig config;
    readonly Conv2d conv_in;
    readonly ModuleList<DownEncoderBlock2D> down_blocks;
    readonly MidBlock2D mid_block;
    readonly GroupNorm conv_norm_out;
    readonly Conv2d conv_out;

    public Encoder(VaeConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(Encoder))
    {
        config.Validate();
        this.config = config;
        var ch = config.BlockOutChannels;
        int groups = config.NormNumGroups;
        conv_in = nn.Conv2d(config.InChannels, ch[0], 3, padding: 1, device: device, dtype: dtype);
        down_blocks = nn.ModuleList(Enumerable.Range(0, ch.Length).Select(i => new DownEncoderBlock2D(
            i == 0 ? ch[0] : ch[i - 1], ch[i], config.LayersPerBlock, groups, addDownsample: i < ch.Length - 1,
            device, dtype)).ToArray());
        mid_block = new MidBlock2D(ch[^1], groups, config.MidBlockAddAttention, device, dtype);
        conv_norm_out = nn.GroupNorm(groups, ch[^1], VaeConfig.GroupNormEps, device: device, dtype: dtype);
        conv_out = nn.Conv2d(ch[^1], 2 * config.LatentChannels, 3, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor image)
    {
        if (image.dim() != 4 || image.shape[1] != config.InChannels)
            throw new ArgumentException($"Encoder expects an image [B, {config.InChannels}, H, W], got " +
                $"[{string.Join(", ", image.shape)}]");
        using var scope = NewDisposeScope();
        var h = conv_in.forward(image);
        foreach (var block in down_blocks) h = block.forward(h);
        h = mid_block.forward(h);
        h = conv_out.forward(nn.functional.silu(conv_norm_out.forward(h)));
        return h.MoveToOuterDisposeScope();
    }
}
