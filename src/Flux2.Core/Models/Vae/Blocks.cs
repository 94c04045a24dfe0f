using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Models.Vae;

/// <summary>diffusers <c>DownEncoderBlock2D</c> (docs/flux2-model.md §5.2): <c>resnets</c> (first maps in→out), then
/// <c>downsamplers.0</c> on every level but the last.</summary>
public sealed class DownEncoderBlock2D : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Downsample2D> downsamplers;

    public DownEncoderBlock2D(long inChannels, long outChannels, int numLayers, int groups, bool addDownsample,
                              Device? device = null, ScalarType? dtype = null) : base(nameof(DownEncoderBlock2D))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, numLayers)
            .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, groups, device, dtype))
            .ToArray());
        downsamplers = addDownsample ? nn.ModuleList(new Downsample2D(outChannels, device, dtype))
            : nn.ModuleList<Downsample2D>();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var r in resnets) h = r.forward(h);
        foreach (var d in downsamplers) h = d.forward(h);
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>UpDecoderBlock2D</c> (docs/flux2-model.md §5.2): <c>layers_per_block + 1</c> <c>resnets</c>
/// (first maps in→out), then nearest ×2 + conv as <c>upsamplers.0</c> on every level but the last.</summary>
public sealed class UpDecoderBlock2D : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Upsample2D> upsamplers;

    public UpDecoderBlock2D(long inChannels, long outChannels, int numLayers, int groups, bool addUpsample,
                            Device? device = null, ScalarType? dtype = null) : base(nameof(UpDecoderBlock2D))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, numLayers)
            .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, groups, device, dtype))
            .ToArray());
        upsamplers = addUpsample ? nn.ModuleList(new Upsample2D(outChannels, device, dtype))
            : nn.ModuleList<Upsample2D>();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var r in resnets) h = r.forward(h);
        foreach (var u in upsamplers) h = u.forward(h);
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>UNetMidBlock2D</c> without time embedding (docs/flux2-model.md §5.2): <c>resnets.0</c> →
/// <c>attentions.0</c> (when enabled) → <c>resnets.1</c>, all at the same channel count.</summary>
public sealed class MidBlock2D : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<VaeAttention> attentions;

    public MidBlock2D(long channels, int groups, bool addAttention, Device? device = null, ScalarType? dtype = null)
        : base(nameof(MidBlock2D))
    {
        resnets = nn.ModuleList(new ResnetBlock2D(channels, channels, groups, device, dtype),
                                new ResnetBlock2D(channels, channels, groups, device, dtype));
        attentions = addAttention ? nn.ModuleList(new VaeAttention(channels, groups, device, dtype))
            : nn.ModuleList<VaeAttention>();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = resnets[0].forward(x);
        foreach (var a in attentions) h = a.forward(h);
        h = resnets[1].forward(h);
        return h.MoveToOuterDisposeScope();
    }
}
