using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>diffusers <c>Downsample2D</c> as used by the VAE encoder (docs/flux2-model.md §5.2): zero-pad (left 0,
/// right 1, top 0, bottom 1), then <c>conv</c> 3×3 stride 2 padding 0.</summary>
public sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv;

    public Downsample2D(long channels, Device? device = null, ScalarType? dtype = null) : base(nameof(Downsample2D))
    {
        conv = nn.Conv2d(channels, channels, 3, stride: 2, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var padded = nn.functional.pad(x, new long[] { 0, 1, 0, 1 }, PaddingModes.Constant, 0.0);
        return conv.forward(padded).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>Upsample2D</c> as used by the VAE decoder (docs/flux2-model.md §5.2): nearest ×2, then
/// <c>conv</c> 3×3 padding 1.</summary>
public sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv;

    public Upsample2D(long channels, Device? device = null, ScalarType? dtype = null) : base(nameof(Upsample2D))
    {
        conv = nn.Conv2d(channels, channels, 3, padding: 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var up = nn.functional.interpolate(x, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest);
        return conv.forward(up).MoveToOuterDisposeScope();
    }
}
