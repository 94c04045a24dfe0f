using Flux2.Nn.Quantization;

namespace Flux2.Training.Config;

public static class ModelConfigQuantization
{
    /// <summary>model.quantize/qtype and model.quantize_te/qtype_te as what <c>Flux2Models.Load</c> quantizes
    /// (quantize_te unset follows quantize, ai-toolkit's code default).</summary>
    public static ModelQuantization Quantization(this ModelConfig m) => new(
        m.Quantize ? ToQuantType(m.Qtype) : null,
        (m.QuantizeTe ?? m.Quantize) ? ToQuantType(m.QtypeTe) : null);

    /// <summary>Through the YAML name, so the config enum and <see cref="QuantType"/> share one set of spellings
    /// (a test checks that every YAML spelling parses).</summary>
    public static QuantType ToQuantType(WeightQuantization q) => QuantType.Parse(YamlNames.EnumName(q));
}
