using Flux2.Nn;
using Flux2.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Models.Transformer;

/// <summary>Linear → SiLU → Linear on a 256-channel sinusoid (diffusers <c>TimestepEmbedding</c>,
/// docs/flux2-model.md §2.3).</summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    public Linear linear_1, linear_2;

    public TimestepEmbedding(int inChannels, int dim, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(TimestepEmbedding))
    {
        linear_1 = new Linear(inChannels, dim, device: device, dtype: dtype, quant: quant);
        linear_2 = new Linear(dim, dim, device: device, dtype: dtype, quant: quant);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var h = nn.functional.silu(linear_1.forward(x));
        return linear_2.forward(h);
    }
}

/// <summary>temb = MLP_t(sinusoid(1000·t)) + MLP_g(sinusoid(1000·g)); the guidance term only when the model has a
/// guidance embedder (FLUX.2 [dev] is guidance-distilled; klein is not). See docs/flux2-model.md §2.3.</summary>
public sealed class TimestepGuidanceEmbedding : nn.Module
{
    readonly int channels;
    public TimestepEmbedding timestep_embedder;
    public TimestepEmbedding? guidance_embedder;

    public TimestepGuidanceEmbedding(TransformerConfig c, Device? device, ScalarType? dtype, QuantType? quant = null)
        : base(nameof(TimestepGuidanceEmbedding))
    {
        channels = c.TimestepGuidanceChannels;
        timestep_embedder = new TimestepEmbedding(channels, c.InnerDim, device, dtype, quant);
        if (c.GuidanceEmbeds) guidance_embedder = new TimestepEmbedding(channels, c.InnerDim, device, dtype, quant);
        RegisterComponents();
    }

    /// <param name="timestep">[B], already multiplied by 1000.</param>
    /// <param name="guidance">[B] already multiplied by 1000, or null.</param>
    public Tensor Forward(Tensor timestep, Tensor? guidance)
    {
        using var scope = NewDisposeScope();
        var temb = timestep_embedder.forward(Sinusoid(timestep, channels).to(timestep.dtype));
        if (guidance_embedder != null)
        {
            if (guidance is null)
                throw new ArgumentException("this transformer has a guidance embedder " +
                    "(guidance_embeds=true): pass a guidance scale");
            temb = temb + guidance_embedder.forward(Sinusoid(guidance, channels).to(guidance.dtype));
        }
        return temb.MoveToOuterDisposeScope();
    }

    /// <summary>fp32 sinusoid, cos first (flip_sin_to_cos, downscale_freq_shift 0, max period 10000).</summary>
    public static Tensor Sinusoid(Tensor t, int channels)
    {
        using var scope = NewDisposeScope();
        int half = channels / 2;
        var exponent = arange(0, half, dtype: ScalarType.Float32, device: t.device) * (-Math.Log(10000) / half);
        var args = t.to(ScalarType.Float32).unsqueeze(1) * exp(exponent).unsqueeze(0);
        return cat(new[] { args.cos(), args.sin() }, 1).MoveToOuterDisposeScope();
    }
}
