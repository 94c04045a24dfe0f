using static TorchSharp.torch;

namespace Flux2.Training.Config;

public static class PrecisionScalarType
{
    /// <summary>The libtorch dtype of a config <see cref="Precision"/> (train.dtype, save.dtype).</summary>
    public static ScalarType ToScalarType(this Precision precision) => precision switch
    {
        Precision.Bf16 => ScalarType.BFloat16,
        Precision.Fp16 => ScalarType.Float16,
        _ => ScalarType.Float32,
    };
}
