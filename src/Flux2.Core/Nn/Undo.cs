namespace Flux2.Nn;

/// <summary>Runs an action once, on the first Dispose: puts back what a <c>using</c> block changed (generator states
/// for a recompute, a module moved to the GPU for one layer's work).</summary>
sealed class Undo(Action undo) : IDisposable
{
    Action? pending = undo;
    public void Dispose() { pending?.Invoke(); pending = null; }
}
