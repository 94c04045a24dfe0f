using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>
/// diffusers VAE <c>Decoder</c> (docs/flux2-model.md §5.2): <c>conv_in</c> 3×3 latent→C_last → <c>mid_block</c>
/// →
/// <c>up_blocks</c> over the reversed channel list (index 0 = lowest resolution), each with layers_per_block+1 ResNets
/// and an upsampler on all but the last → <c>conv_norm_out</c> → SiLU → <c>conv_out</c> 3×3 to image channels.
/// </summary>
public sealed class Decoder : nn.Module<Tensor, Tensor>
{
    readonly VaeConfig config;
    readonly Conv2d conv_in;
    readonly MidBlock2D mid_block;
    readonly ModuleList<UpDecoderBlock2D> up_blocks;
    readonly GroupNorm conv_norm_out;
    readonly Conv2d conv_out;

    public Decoder(VaeConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(Decoder))
    {
        config.Validate();
        this.config = config;
        var rev = config.DecoderChannels.Reverse().ToArray();
        int groups = config.NormNumGroups;
        conv_in = nn.Conv2d(config.LatentChannels, rev[0], 3, padding: 1, device: device, dtype: dtype);
        mid_block = new MidBlock2D(rev[0], groups, config.MidBlockAddAttention, device, dtype);
        up_blocks = nn.ModuleList(Enumerable.Range(0, rev.Length).Select(i => new UpDecoderBlock2D(
            i == 0 ? rev[0] : rev[i - 1], rev[i], config.LayersPerBlock + 1, groups, addUpsample: i < rev.Length - 1,
            device, dtype)).ToArray());
        conv_norm_out = nn.GroupNorm(groups, rev[^1], VaeConfig.GroupNormEps, device: device, dtype: dtype);
        conv_out = nn.Conv2d(rev[^1], config.OutChannels, 3, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor z)
    {
        if (z.dim() != 4 || z.shape[1] != config.LatentChannels)
            throw new ArgumentException($"Decoder expects z [B, {config.LatentChannels}, h, w], got " +
                $"[{string.Join(", ", z.shape)}]");
        using var scope = NewDisposeScope();
        var h = conv_in.forward(z);
        h = mid_block.forward(h);
        foreach (var block in up_blocks) h = block.forward(h);
        h = conv_out.forward(nn.functional.silu(conv_norm_out.forward(h)));
        return h.MoveToOuterDisposeScope();
    }
}
