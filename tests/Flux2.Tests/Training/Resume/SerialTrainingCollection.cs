using Xunit;

namespace Flux2.Tests.Training.Resume;

/// <summary>Runs the bit-exact comparisons alone: tiny-random builds its VAE from torch's global generator
/// (Flux2Models.CreateTinyRandom seeds it, then draws), so a test running beside them can change the base model
/// between a straight run and its resumed twin and make an exact run look inexact.</summary>
[CollectionDefinition(nameof(SerialTrainingCollection), DisableParallelization = true)]
public sealed class SerialTrainingCollection;
