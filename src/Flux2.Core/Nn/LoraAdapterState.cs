using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>
/// The LoRA switches of one module at forward time (adapter on/off and scale), replayed for a checkpointed block's
/// recompute: code such as differential output preservation toggles adapters between passes, and the backward pass
/// must recompute the block as it ran, not as it is configured by then. Also names the generators the block's LoRA
/// dropout draws from, whose states the checkpoint replays.
/// </summary>
public sealed class LoraAdapterState : IReplayableState
{
    readonly (LinearAdapter Adapter, bool Enabled, double Scale)[] captured;

    LoraAdapterState((LinearAdapter, bool, double)[] captured) => this.captured = captured;

    public static LoraAdapterState Capture(nn.Module module) =>
        new(Adapters(module).Select(a => (a, a.Enabled, a.Scale)).ToArray());

    public IDisposable Replay()
    {
        var now = captured.Select(c => (c.Adapter, c.Adapter.Enabled, c.Adapter.Scale)).ToArray();
        Apply(captured);
        return new Restore(() => Apply(now));
    }

    /// <summary>The generators enabled adapters with dropout draw their masks from (the default generator when an
    /// adapter has none of its own).</summary>
    public static IReadOnlyList<Generator> DropoutGenerators(nn.Module module) =>
        Adapters(module).Where(a => a.Enabled && a.Dropout > 0).Select(a => a.DropoutGenerator ?? Generator.Default)
                        .Distinct().ToList();

    static IEnumerable<LinearAdapter> Adapters(nn.Module module) =>
        module.modules().OfType<Linear>().SelectMany(l => l.Adapters);

    static void Apply((LinearAdapter Adapter, bool Enabled, double Scale)[] state)
    {
        foreach (var (a, enabled, scale) in state) { a.Enabled = enabled; a.Scale = scale; }
    }

    sealed class Restore(Action restore) : IDisposable
    {
        Action? pending = restore;
        public void Dispose() { pending?.Invoke(); pending = null; }
    }
}
