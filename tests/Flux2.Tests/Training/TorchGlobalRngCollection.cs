using Xunit;

namespace Flux2.Tests.Training;

/// <summary>Training runs seed libtorch's global generator (LoRA init, manual_seed); two of them in parallel would draw
/// from each other's stream and break bit-exact determinism tests, so classes that train share this
/// collection.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchGlobalRngCollection
{
    public const string Name = "torch global RNG";
}
