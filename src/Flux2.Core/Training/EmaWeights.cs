using Flux2.Training.State;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Training;

/// <summary>
/// Exponential moving average of the trainable weights (docs/ai-toolkit-compat.md §2.16): after each applied optimizer
/// step shadow −= (1 − decay)·(shadow − param), decay fixed. <see cref="SwappedIn"/> puts the shadow into the
/// parameters for sampling and saving and puts the trained weights back afterwards. Unlike ai-toolkit the shadow is
/// saved in the training state, so a resumed run averages exactly as an uninterrupted one.
/// </summary>
public sealed class EmaWeights : IDisposable
{
    readonly IReadOnlyList<Parameter> parameters;
    readonly Tensor[] shadow;
    public double Decay { get; }

    public EmaWeights(IReadOnlyList<Parameter> parameters, double decay)
    {
        this.parameters = parameters;
        Decay = decay;
        using var _ = no_grad();
        shadow = parameters.Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
    }

    public void Update()
    {
        using var _ = no_grad();
        for (int i = 0; i < shadow.Length; i++)
            shadow[i].sub_((shadow[i] - parameters[i]).mul_(1 - Decay));
    }

    /// <summary>Swaps the averaged weights in until the returned handle is disposed.</summary>
    public IDisposable SwappedIn()
    {
        Swap();
        return new SwapBack(this);
    }

    /// <summary>Exchanges parameter and shadow values in place (so two swaps restore both bit for bit).</summary>
    void Swap()
    {
        using var _ = no_grad();
        for (int i = 0; i < shadow.Length; i++)
        {
            using var trained = parameters[i].detach().clone();
            parameters[i].copy_(shadow[i]);
            shadow[i].copy_(trained);
        }
    }

    sealed class SwapBack(EmaWeights ema) : IDisposable { public void Dispose() => ema.Swap(); }

    public void Capture(TrainingState state)
    {
        state.Put("ema.decay", Decay);
        for (int i = 0; i < shadow.Length; i++) state.PutTensor($"ema.{i}", shadow[i]);
    }

    /// <summary>Loads the saved shadow; false when the state has none (EMA was off), leaving the shadow at the
    /// current weights — the caller restores those first.</summary>
    public bool Restore(TrainingState state)
    {
        using var _ = no_grad();
        if (!state.Has("ema.0"))
        {
            for (int i = 0; i < shadow.Length; i++) shadow[i].copy_(parameters[i]);
            return false;
        }
        for (int i = 0; i < shadow.Length; i++) shadow[i].copy_(state.GetTensor($"ema.{i}"));
        return true;
    }

    public void Dispose() { foreach (var t in shadow) t.Dispose(); }
}
