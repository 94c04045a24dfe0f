using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>
/// The mid-block self-attention (docs/flux2-model.md §5.2; diffusers <c>Attention</c> with one head of dim C and
/// <c>AttnProcessor2_0</c>): GroupNorm over [B,C,H,W] → tokens [B,HW,C] → Linear <c>to_q/to_k/to_v</c> (with bias)
/// → single-head SDPA (scale 1/√C) → <c>to_out.0</c> → back to [B,C,H,W] → residual add.
/// </summary>
public sealed class VaeAttention : nn.Module<Tensor, Tensor>
{
    public readonly long Channels;
    readonly GroupNorm group_norm;
    readonly Nn.Linear to_q, to_k, to_v;
    readonly ModuleList<Nn.Linear> to_out;

    public VaeAttention(long channels, int groups, Device? device = null, ScalarType? dtype = null)
        : base(nameof(VaeAttention))
    {
        if (channels % groups != 0)
            throw new ArgumentException($"VaeAttention: {channels} channels not divisible by {groups} groups");
        Channels = channels;
        group_norm = nn.GroupNorm(groups, channels, VaeConfig.GroupNormEps, device: device, dtype: dtype);
        to_q = new Nn.Linear(channels, channels, hasBias: true, device, dtype);
        to_k = new Nn.Linear(channels, channels, hasBias: true, device, dtype);
        to_v = new Nn.Linear(channels, channels, hasBias: true, device, dtype);
        to_out = nn.ModuleList(new Nn.Linear(channels, channels, hasBias: true, device, dtype));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != Channels)
            throw new ArgumentException($"VaeAttention expects [B, {Channels}, H, W], got " +
                $"[{string.Join(", ", x.shape)}]");
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var tokens = group_norm.forward(x).view(b, c, h * w).transpose(1, 2);           // [B, HW, C]
        var q = to_q.forward(tokens).unsqueeze(1);                                        // [B, 1, HW, C]
        var k = to_k.forward(tokens).unsqueeze(1);
        var v = to_v.forward(tokens).unsqueeze(1);
        var a = nn.functional.scaled_dot_product_attention(q, k, v).squeeze(1);           // [B, HW, C]
        var o = to_out[0].forward(a).transpose(1, 2).reshape(b, c, h, w);
        return (o + x).MoveToOuterDisposeScope();
    }
}
