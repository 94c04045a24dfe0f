using System.Reflection;
using Flux2.Nn.Offload;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>What a checkpointed block needs besides its tensor inputs so that the backward pass recomputes exactly what
/// the forward computed. All members optional.</summary>
public sealed record CheckpointHooks
{
    /// <summary>Generators the block draws from (LoRA dropout masks): their state is saved before the forward, set back
    /// for the recompute, and restored afterwards, so masks match and later draws are unaffected (PyTorch's
    /// <c>checkpoint(preserve_rng_state=True)</c> does the same with <c>fork_rng</c>).</summary>
    public IReadOnlyList<Generator> Generators { get; init; } = Array.Empty<Generator>();

    /// <summary>Called at forward time; the object it returns re-establishes, for the recompute, any other module state
    /// the block reads (e.g. which LoRA adapters were enabled) and undoes that when disposed.</summary>
    public Func<IReplayableState>? CaptureState { get; init; }

    /// <summary>Around the forward, which runs without recording gradients but is a training forward: switches the
    /// block's layers whose behaviour differs in training (LoRA dropout) to it, or the recompute (with gradients)
    /// would differ from the forward. Disposing the result switches them back.</summary>
    public Func<IDisposable>? DuringForward { get; init; }

    /// <summary>Around the recompute in the backward pass (on the autograd thread): tells the block's layers that their
    /// backward follows at once, so a layer may keep for it what it would otherwise rebuild (the quantized Linear
    /// keeps its widened weight). Disposing the result ends that.</summary>
    public Func<IDisposable>? DuringRecompute { get; init; }

    /// <summary>Before the recompute in the backward pass (layer offloading: bring the block's weights in).</summary>
    public Action? BeforeRecompute { get; init; }

    /// <summary>After the block's backward has been enqueued (layer offloading: its weights may go).</summary>
    public Action? AfterBackward { get; init; }

    /// <summary>Parks the inputs listed in <see cref="OffloadableInputs"/> in pinned host memory until the recompute
    /// instead of keeping them on the GPU (<see cref="CheckpointInputOffloader"/>).</summary>
    public CheckpointInputOffloader? InputOffloader { get; init; }

    /// <summary>Indices of the inputs the caller does not keep (the hidden states passed from block to block): only
    /// those are worth moving; a tensor the caller holds anyway (RoPE tables, modulation) would stay on the
    /// GPU.</summary>
    public IReadOnlyList<int> OffloadableInputs { get; init; } = Array.Empty<int>();
}

/// <summary>Module state captured at forward time (see <see cref="CheckpointHooks.CaptureState"/>).</summary>
public interface IReplayableState
{
    /// <summary>Puts the captured state in place; disposing the result restores the state found at that
    /// moment.</summary>
    IDisposable Replay();
}

/// <summary>
/// What the backward callbacks of the blocks checkpointed through one session report back to the thread that runs
/// the backward pass, the input stashes of those blocks (given back when the backward pass ends, also for blocks
/// it did not reach), and the gradients those callbacks and the recomputed layers returned to libtorch. Owned by
/// whoever runs the blocks (<see cref="BlockRunner"/>); one training forward and backward at a time per session.
/// </summary>
public sealed class CheckpointSession
{
    internal Exception? Failure;
    internal readonly List<CheckpointInputOffloader.Stash> Stashes = new();
    internal readonly HandedGradients Handed = new();

    /// <summary><c>loss.backward()</c>, then any failure of a recompute rethrown here (see
    /// <see cref="GradientCheckpoint"/>'s remarks). Call it on the thread that ran the forward.</summary>
    public void Backward(Tensor loss)
    {
        Interlocked.Exchange(ref Failure, null);
        try { loss.backward(); }
        finally
        {
            Handed.ReleaseAll(); // the pass is over: libtorch has read them all
            ReclaimStashes();
        }
        ThrowIfBackwardFailed();
    }

    /// <summary>For a forward whose graph is dropped without a backward pass (a step skipped for a non-finite loss):
    /// its blocks' offloaded inputs are given back now rather than at the next <see cref="Backward"/>.</summary>
    public void DiscardForward() => ReclaimStashes();

    /// <summary>For callers that run <c>backward()</c> themselves: throws, once, what a recompute of a block
    /// checkpointed through this session failed with.</summary>
    public void ThrowIfBackwardFailed()
    {
        var e = Interlocked.Exchange(ref Failure, null);
        if (e is not null)
            throw new InvalidOperationException(
                $"gradient checkpointing: recomputing a block in the backward pass failed: {e.Message}", e);
    }

    void ReclaimStashes()
    {
        lock (Stashes) { foreach (var s in Stashes) s.Dispose(); Stashes.Clear(); }
    }
}

/// <summary>
/// Gradients that custom autograd functions return to libtorch. TorchSharp wraps each in a handle it never frees, and
/// libtorch reads them only after the callback has returned, so they cannot be disposed there: each is disposed at
/// the next callback of the same bookkeeping on the thread that returned it (libtorch copied it before that thread
/// could call back again), or, for a <see cref="CheckpointSession"/>'s, once that session's backward pass is over.
/// Without this, every activation-sized gradient would wait for the garbage collector.
/// </summary>
sealed class HandedGradients
{
    /// <summary>For layers that run outside any session (a quantized Linear trained without checkpointing): released
    /// by the thread's next callback.</summary>
    public static readonly HandedGradients Unowned = new();

    readonly List<(int Thread, Tensor Grad)> handed = new();

    /// <summary>Registers <paramref name="grad"/>, returned to libtorch by the current callback, and returns
    /// it.</summary>
    public Tensor Hand(Tensor grad)
    {
        lock (handed) handed.Add((Environment.CurrentManagedThreadId, grad));
        return grad;
    }

    /// <summary>Start of a callback: gradients this thread returned earlier have been read by now.</summary>
    public void ReleaseThisThreads()
    {
        int thread = Environment.CurrentManagedThreadId;
        Release(e => e.Thread == thread);
    }

    /// <summary>End of the backward pass.</summary>
    public void ReleaseAll() => Release(_ => true);

    void Release(Func<(int Thread, Tensor Grad), bool> which)
    {
        lock (handed)
        {
            foreach (var e in handed) if (which(e)) e.Grad.Dispose();
            handed.RemoveAll(e => which(e));
        }
    }
}

/// <summary>
/// Reentrant gradient checkpointing of one block (PyTorch <c>torch.utils.checkpoint</c>, use_reentrant=True, which
/// TorchSharp lacks): the forward runs the block without recording a graph and keeps only its inputs; when
/// the backward pass reaches the block, it recomputes the block's forward with gradients on, runs
/// <c>torch.autograd.backward</c> through that small graph (so the LoRA parameters inside accumulate their .grad) and
/// hands the inputs' gradients on. Activation memory drops from every intermediate of every block to one block's
/// inputs per block, at the cost of one more forward per block; with <see cref="CheckpointHooks.InputOffloader"/> those
/// inputs wait in pinned host memory instead (<see cref="CheckpointInputOffloader"/>).
/// <para>Built on <see cref="autograd.MultiTensorFunction{T}"/>. Things PyTorch's version gets wrong or TorchSharp
/// makes tricky, handled here:</para>
/// <list type="bullet">
/// <item>An always-requires-grad anchor input: when no input requires grad (the first block, x_embedder without LoRA)
/// PyTorch's reentrant checkpoint builds no backward node and silently drops the block's parameter gradients.</item>
/// <item>RNG and module state replay (<see cref="CheckpointHooks"/>); LoRA dropout is kept on during the no-grad
/// forward through <see cref="CheckpointHooks.DuringForward"/>.</item>
/// <item>TorchSharp wraps each gradient it hands to backward in a new handle and never frees it, and the gradients
/// backward returns are read by libtorch only after the callback returns: the first are disposed here, the second
/// through <see cref="HandedGradients"/>, never while libtorch may read them.</item>
/// <item>The callback runs on libtorch's autograd thread (the caller's on CPU, a device thread on CUDA), where no
/// DisposeScope of the caller applies, and an exception escaping it would kill the process: it is stored in the
/// <see cref="CheckpointSession"/> and thrown by its <see cref="CheckpointSession.Backward"/> (or
/// <see cref="CheckpointSession.ThrowIfBackwardFailed"/>) on the forward's thread once the backward pass is over.
/// Trainings with different sessions (parallel tests) do not see each other's.</item>
/// </list>
/// </summary>
public static class GradientCheckpoint
{
    /// <summary>Runs <paramref name="block"/> on <paramref name="inputs"/> checkpointed through
    /// <paramref name="session"/> when gradients are enabled, plainly otherwise. <paramref name="block"/> must read
    /// every tensor that may need a gradient from its argument (not from a closure), must not modify its inputs in
    /// place, and returns new tensors the caller owns.</summary>
    public static Tensor[] Run(Func<Tensor[], Tensor[]> block, Tensor[] inputs, CheckpointSession session,
                               CheckpointHooks? hooks = null)
    {
        if (!is_grad_enabled()) return block(inputs);
        hooks ??= new CheckpointHooks();
        var call = new Call(block, hooks, inputs.Select(t => t.requires_grad).ToArray(), session);
        using var anchor = empty(0, device: inputs.Length > 0 ? inputs[0].device : null, requires_grad: true);
        var args = new object[inputs.Length + 2];
        args[0] = call;
        inputs.CopyTo(args, 1);
        args[^1] = anchor;
        var outputs = CheckpointFunction.apply(args);
        call.AfterApply();
        return outputs.ToArray();
    }

    /// <summary>One checkpointed block application: what the backward pass needs to recompute it.</summary>
    sealed class Call(Func<Tensor[], Tensor[]> block, CheckpointHooks hooks, bool[] inputRequiresGrad,
                      CheckpointSession session)
    {
        public readonly CheckpointSession Session = session;
        public readonly Func<Tensor[], Tensor[]> Block = block;
        public readonly CheckpointHooks Hooks = hooks;
        public readonly bool[] InputRequiresGrad = inputRequiresGrad;
        public byte[][] GeneratorStates = Array.Empty<byte[]>();
        public IReplayableState? State;
        public List<Tensor> RawOutputs = new();
        public autograd.AutogradContext? Context;
        /// <summary>Where each input of the block is found again: an index into the saved variables, or, for an
        /// offloaded input, -1 - its index in <see cref="Stash"/>.</summary>
        public int[] InputSlots = Array.Empty<int>();
        public CheckpointInputOffloader.Stash? Stash;

        /// <summary>Saves the inputs for the recompute: offloadable ones worth moving go to the offloader's stash,
        /// the rest into <paramref name="ctx"/>.</summary>
        public void SaveInputs(autograd.AutogradContext ctx, Tensor[] inputs)
        {
            var offloader = Hooks.InputOffloader;
            var moved = offloader is null ? new List<int>()
                : Hooks.OffloadableInputs.Where(i => i < inputs.Length && offloader!.Worth(inputs[i]))
                                         .Distinct().ToList();
            var kept = Enumerable.Range(0, inputs.Length).Where(i => !moved.Contains(i)).ToList();
            InputSlots = Enumerable.Range(0, inputs.Length)
                                   .Select(i => moved.Contains(i) ? -1 - moved.IndexOf(i) : kept.IndexOf(i)).ToArray();
            ctx.save_for_backward(kept.Select(i => inputs[i]).ToList());
            if (moved.Count == 0) return;
            Stash = offloader!.Offload(moved.Select(i => inputs[i]).ToList());
            lock (Session.Stashes) Session.Stashes.Add(Stash);
        }

        /// <summary>The inputs as the forward saw them: saved variables and restored stash tensors, new handles owned
        /// by <paramref name="scope"/>.</summary>
        public Tensor[] LoadInputs(autograd.AutogradContext ctx, DisposeScope scope)
        {
            var saved = ctx.get_saved_variables();
            var restored = Stash is null ? Array.Empty<Tensor>() : Hooks.InputOffloader!.Restore(Stash);
            foreach (var t in restored) t.MoveToOtherDisposeScope(scope); // handed over without a scope
            return InputSlots.Select(slot => slot >= 0 ? saved[slot] : restored[-1 - slot]).ToArray();
        }

        public void CaptureForwardState()
        {
            GeneratorStates = Hooks.Generators
                .Select(g => { using var s = g.get_state(); return s.bytes.ToArray(); }).ToArray();
            State = Hooks.CaptureState?.Invoke();
        }

        /// <summary>Generators set to their forward-time states; disposing puts back the states they had.</summary>
        public IDisposable ReplayGenerators()
        {
            var now = Hooks.Generators.Select(g => g.get_state()).ToArray();
            for (int i = 0; i < now.Length; i++)
            {
                using var s = tensor(GeneratorStates[i], ScalarType.Byte);
                Hooks.Generators[i].set_state(s);
            }
            return new Undo(() =>
            {
                for (int i = 0; i < now.Length; i++) { Hooks.Generators[i].set_state(now[i]); now[i].Dispose(); }
            });
        }

        /// <summary>The forward's own output handles (TorchSharp returns new handles from wrapping them) and the
        /// output-sized buffers TorchSharp allocates per output to materialize missing gradients — never read, since
        /// <see cref="CheckpointFunction"/> turns materialization off; freeing them saves one block output per
        /// block.</summary>
        public bool AfterApply()
        {
            foreach (var t in RawOutputs) t.Dispose();
            RawOutputs.Clear();
            bool released = Context is not null && OutputCacheRelease.Release(Context);
            Context = null;
            return released;
        }
    }


    /// <summary>The autograd function: args = [Call, inputs..., anchor].</summary>
    public sealed class CheckpointFunction : autograd.MultiTensorFunction<CheckpointFunction>
    {
        public override string Name => nameof(CheckpointFunction);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var call = (Call)vars[0];
            var inputs = vars[1..^1].Cast<Tensor>().ToArray();
            call.SaveInputs(ctx, inputs);
            ctx.save_data("call", call);
            ctx.set_materialize_grads(false);
            call.Context = ctx;
            call.CaptureForwardState();
            using var scope = NewDisposeScope();
            using (call.Hooks.DuringForward?.Invoke())
            {
                var outputs = call.Block(inputs);
                foreach (var o in outputs) o.DetachFromDisposeScope();
                call.RawOutputs = outputs.ToList();
                return call.RawOutputs;
            }
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
        {
            var call = (Call)ctx.get_data("call");
            call.Session.Handed.ReleaseThisThreads();
            HandedGradients.Unowned.ReleaseThisThreads();
            var result = new List<Tensor>(new Tensor[call.InputRequiresGrad.Length + 2]);
            try
            {
                if (Volatile.Read(ref call.Session.Failure) is not null) return result; // the pass is failing: skip
                call.Hooks.BeforeRecompute?.Invoke();
                try
                {
                    var grads = Recompute(ctx, call, gradOutputs);
                    for (int i = 0; i < grads.Length; i++)
                        if (grads[i] is { } g) result[i + 1] = call.Session.Handed.Hand(g);
                }
                finally { call.Hooks.AfterBackward?.Invoke(); }
            }
            catch (Exception e) { Interlocked.CompareExchange(ref call.Session.Failure, e, null); }
            finally { foreach (var g in gradOutputs) g?.Dispose(); }
            return result;
        }

        /// <summary>Re-runs the block with gradients on from detached copies of the saved inputs, backpropagates the
        /// incoming gradients through it, and returns the inputs' gradients (null where an input needs none).</summary>
        static Tensor?[] Recompute(autograd.AutogradContext ctx, Call call, List<Tensor> gradOutputs)
        {
            using var scope = NewDisposeScope();
            var saved = call.LoadInputs(ctx, scope);
            var inputs = saved.Select((s, i) => s.detach().requires_grad_(call.InputRequiresGrad[i])).ToArray();
            Tensor[] outputs;
            using (enable_grad())
            using (call.ReplayGenerators())
            using (call.State?.Replay())
            using (call.Hooks.DuringRecompute?.Invoke())
                outputs = call.Block(inputs);
            var (outs, grads) = (new List<Tensor>(), new List<Tensor>());
            for (int i = 0; i < outputs.Length; i++)
                if (outputs[i].requires_grad && i < gradOutputs.Count && gradOutputs[i] is { IsInvalid: false } g)
                {
                    outs.Add(outputs[i]);
                    grads.Add(g);
                }
            if (outs.Count > 0) autograd.backward(outs, grads);
            return inputs.Select(x => x.requires_grad && x.grad is { } g ? g.DetachFromDisposeScope() : null).ToArray();
        }
    }

    /// <summary>TorchSharp 0.107 keeps, per output of a custom function, an <c>empty_like</c> buffer
    /// (Node._outputCache) for gradient materialization until the graph is freed. With materialization off it is never
    /// read; releasing it saves one block output of device memory per checkpointed block (~3 GiB for FLUX.2-dev at
    /// 1024²). Reached by reflection because TorchSharp keeps it internal; if a later TorchSharp renames the fields,
    /// nothing is released and <see cref="OutputCacheReleaseWorks"/> (a test checks it) turns false.</summary>
    static class OutputCacheRelease
    {
        static readonly FieldInfo? NodeField =
            typeof(autograd.AutogradContext).GetField("_node", BindingFlags.NonPublic | BindingFlags.Instance);

        public static bool Release(autograd.AutogradContext ctx)
        {
            var node = NodeField?.GetValue(ctx);
            var field = node?.GetType().GetField("_outputCache", BindingFlags.NonPublic | BindingFlags.Instance);
            if (field?.GetValue(node) is not List<Tensor> cache) return false;
            foreach (var t in cache) t?.Dispose();
            field.SetValue(node, cache.Select(_ => (Tensor)null!).ToList());
            return true;
        }
    }

    /// <summary>Whether the per-output gradient buffers of the current TorchSharp can be released (see
    /// above).</summary>
    public static bool OutputCacheReleaseWorks()
    {
        using var scope = NewDisposeScope();
        using var _ = enable_grad();
        var x = ones(2, requires_grad: true);
        var call = new Call(t => new[] { t[0] * 2 }, new CheckpointHooks(), new[] { true }, new CheckpointSession());
        CheckpointFunction.apply(call, x, empty(0, requires_grad: true));
        return call.AfterApply();
    }
}
