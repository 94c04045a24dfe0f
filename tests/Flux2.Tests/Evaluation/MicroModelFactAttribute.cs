using Flux2.Models;
using Xunit;

namespace Flux2.Tests.Evaluation;

/// <summary>A fact that needs the embedded FLUX.2-micro weights: skipped, with the reason, while
/// <see cref="MicroModel.DefaultFolder"/> has no model_index.json (the weights are trained separately and committed
/// later); runs as soon as they are there.</summary>
public sealed class MicroModelFactAttribute : FactAttribute
{
    public MicroModelFactAttribute()
    {
        if (!File.Exists(Path.Combine(MicroModel.DefaultFolder, "model_index.json")))
            Skip = $"needs the FLUX.2-micro weights: {MicroModel.DefaultFolder}/model_index.json is missing " +
                   "(commit them to src/Flux2.Core/Micro/flux2-micro/ or run ./flux2 pretrain-micro)";
    }
}
