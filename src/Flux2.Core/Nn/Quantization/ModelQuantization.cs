namespace Flux2.Nn.Quantization;

/// <summary>Which FLUX.2 components load with quantized Linear weights (ai-toolkit's <c>quantize</c>/<c>qtype</c> and
/// <c>quantize_te</c>/<c>qtype_te</c>); null = that component stays in the load dtype.</summary>
public sealed record ModelQuantization(QuantType? Transformer = null, QuantType? TextEncoder = null)
{
    public static readonly ModelQuantization None = new();

    public bool Any => Transformer is not null || TextEncoder is not null;

    public override string ToString() =>
        $"transformer {Transformer?.Name ?? "unquantized"}, text encoder {TextEncoder?.Name ?? "unquantized"}";
}
