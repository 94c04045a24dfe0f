using static TorchSharp.torch;

namespace Flux2.Nn.Offload;

/// <summary>
/// Submodules whose weights live in host memory and reach the device only for a moment (layer offloading's blocks,
/// <see cref="BlockOffloader"/>). Between those moments their parameters and buffers are empty placeholders, so code
/// that writes weights (<see cref="RandomInit"/>, <see cref="ModuleLoader"/>) must do it inside
/// <see cref="Fill"/>: that is how a model is built or loaded without its offloaded part ever being on the GPU whole.
/// </summary>
public interface IOffloadedModules
{
    /// <summary>True for a module whose weights are offloaded (its tensors are placeholders outside <see
    /// cref="Fill"/>).</summary>
    bool IsOffloaded(nn.Module module);

    /// <summary>The real shapes of an offloaded module's parameters and buffers, by their names within the
    /// module.</summary>
    IReadOnlyDictionary<string, long[]> ShapesOf(nn.Module module);

    /// <summary>Runs <paramref name="fill"/> while <paramref name="module"/>'s tensors are real device tensors holding
    /// its current values, and keeps what it wrote into them.</summary>
    void Fill(nn.Module module, Action fill);
}
