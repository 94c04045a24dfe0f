using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Pipeline;
using Flux2.Tests.Training;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.Network;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Nn;

/// <summary>
/// Per-block gradient checkpointing on the tiny transformer: LoRA gradients equal those of the plain
/// backward (LoRA dropout on, x_embedder without LoRA, so the first block has no input that requires grad), the
/// residency hooks run in the documented order, recompute failures surface as exceptions, and nothing leaks.
/// </summary>
[Collection(TorchGlobalRngCollection.Name)] // seeds libtorch's global generator (RandomInit, inputs)
public class GradientCheckpointTests(ITestOutputHelper output)
{
    const int ImageSide = 4, TextTokens = 5;

    /// <summary>A seeded tiny transformer with a LoRA (ai-toolkit targets: blocks only) whose up matrices are random,
    /// so every adapter's down matrix gets a non-zero gradient too.</summary>
    sealed class Rig : IDisposable
    {
        public readonly Flux2Transformer Model;
        public readonly LoraNetwork Network;
        readonly Tensor hidden, context, t, g, imgIds, txtIds, target;

        public Rig(double dropout, Device? device = null)
        {
            TorchRuntime.EnsureLoaded();
            var c = TransformerConfig.Tiny;
            Model = new Flux2Transformer(c, device);
            RandomInit.Apply(Model, seed: 3);
            Network = LoraNetwork.Attach(Model, new NetworkConfig { Linear = 2, Dropout = dropout }, seed: 5);
            using (no_grad()) { manual_seed(11); foreach (var m in Network.Modules) m.Up.normal_(0, 0.1); }
            manual_seed(13);
            hidden = randn(1, ImageSide * ImageSide, c.InChannels).to(device ?? CPU);
            context = randn(1, TextTokens, c.JointAttentionDim).to(device ?? CPU);
            target = randn(1, ImageSide * ImageSide, c.OutChannels).to(device ?? CPU);
            t = tensor(new[] { 0.4f }).to(device ?? CPU);
            g = tensor(new[] { 1f }).to(device ?? CPU);
            imgIds = PositionIds.Image(ImageSide, ImageSide).to(device ?? CPU);
            txtIds = PositionIds.Text(TextTokens).to(device ?? CPU);
        }

        /// <summary>One training step's loss and backward; returns the LoRA gradients (copies, in module
        /// order).</summary>
        public Tensor[] Gradients(bool checkpointing, Action? beforeBackward = null)
        {
            Model.Runner.Checkpointing = checkpointing;
            foreach (var p in Network.Parameters) p.grad = null;
            using (var scope = NewDisposeScope())
            {
                var v = Model.Forward(hidden, context, t, g, imgIds, txtIds);
                var loss = (v - target).pow(2).mean();
                beforeBackward?.Invoke();
                Model.Runner.Backward(loss);
            }
            return Network.Parameters.Select(p => p.grad is { } gr ? gr.clone() : zeros_like(p)).ToArray();
        }

        public Tensor Forward() => Model.Forward(hidden, context, t, g, imgIds, txtIds);

        public void Step(bool checkpointing)
        {
            Model.Runner.Checkpointing = checkpointing;
            using var scope = NewDisposeScope();
            foreach (var p in Network.Parameters) p.grad = null;
            var v = Model.Forward(hidden, context, t, g, imgIds, txtIds);
            Model.Runner.Backward((v - target).pow(2).mean());
        }

        public byte[] DropoutGeneratorState()
        {
            using var s = Network.DropoutGenerator.get_state();
            return s.data<byte>().ToArray();
        }
        public void SetDropoutGeneratorState(byte[] state)
        {
            using var s = tensor(state);
            Network.DropoutGenerator.set_state(s);
        }

        public void Dispose()
        {
            Network.Dispose();
            Model.Dispose();
            foreach (var x in new[] { hidden, context, t, g, imgIds, txtIds, target }) x.Dispose();
        }
    }

    void AssertSameGradients(Tensor[] expected, Tensor[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double scale = Math.Max(expected[i].abs().max().item<float>(), 1e-12);
            worst = Math.Max(worst, (expected[i] - actual[i]).abs().max().item<float>() / scale);
        }
        output.WriteLine($"{what}: {expected.Length} LoRA tensors, worst relative difference {worst:E2}");
        Assert.True(worst <= 1e-6,
            $"{what}: LoRA gradients differ by {worst:E2} (relative) between plain and checkpointed backward");
    }

    [Fact]
    public void CheckpointedGradientsEqualPlainOnesWithLoraDropout()
    {
        using var rig = new Rig(dropout: 0.25);
        Assert.Empty(rig.Model.x_embedder.Adapters); // block 0's inputs require no grad: the anchor case
        var start = rig.DropoutGeneratorState();
        var plain = rig.Gradients(checkpointing: false);
        var afterPlain = rig.DropoutGeneratorState();
        rig.SetDropoutGeneratorState(start);
        var checkpointed = rig.Gradients(checkpointing: true);
        AssertSameGradients(plain, checkpointed, "dropout 0.25");
        // The recompute replays the masks and leaves the generator where the plain run left it.
        Assert.Equal(afterPlain, rig.DropoutGeneratorState());
        // Every adapter learns, including those of the first double block (no input of it requires grad).
        var firstBlock = rig.Network.Modules.Select((m, i) => (m, i)).Where(x =>
            x.m.Name.StartsWith("transformer_blocks.0.")).ToList();
        Assert.NotEmpty(firstBlock);
        foreach (var (m, i) in firstBlock)
            Assert.True(checkpointed[2 * i].abs().sum().item<float>() > 0, $"{m.Name}: no gradient with checkpointing");
        Assert.All(checkpointed, x => Assert.True(x.abs().sum().item<float>() > 0));
    }

    [Fact]
    public void DropoutMasksDifferBetweenDraws()
    {
        // Guards the test above against vacuity: with a different generator state the gradients must change.
        using var rig = new Rig(dropout: 0.25);
        var first = rig.Gradients(checkpointing: false);
        var second = rig.Gradients(checkpointing: true);
        double diff = first.Zip(second).Max(p => (p.First - p.Second).abs().max().item<float>());
        Assert.True(diff > 1e-4,
            $"gradients from two different dropout draws agree ({diff:E2}): dropout is not acting");
    }

    [Fact]
    public void RecomputeUsesTheAdapterSwitchesOfTheForward()
    {
        using var rig = new Rig(dropout: 0);
        var plain = rig.Gradients(checkpointing: false);
        // Change the LoRA scale between forward and backward: the recompute must still use the forward's scale.
        var checkpointed = rig.Gradients(checkpointing: true, beforeBackward:
            () => { foreach (var m in rig.Network.Modules) m.Adapter.Scale = 3; });
        foreach (var m in rig.Network.Modules) m.Adapter.Scale = 1;
        AssertSameGradients(plain, checkpointed, "scale changed before backward");
        Assert.All(rig.Network.Modules, m => Assert.Equal(1, m.Adapter.Scale));
    }

    sealed class RecordingResidency : IBlockResidency
    {
        public readonly List<string> Calls = new();
        public void
            Enter(int index, bool recompute)
        { lock (Calls) Calls.Add($"enter {index}{(recompute ? " r" : "")}"); }
        public void Exit(int index, bool recompute)
        {
            lock (Calls) Calls.Add($"exit {index}{(recompute ? " r" : "")}");
        }
    }

    [Fact]
    public void ResidencyHooksRunInExecutionOrderAndDescendingInTheBackward()
    {
        using var rig = new Rig(dropout: 0);
        int blocks = rig.Model.Config.NumLayers + rig.Model.Config.NumSingleLayers;
        var forward = Enumerable.Range(0, blocks).SelectMany(i => new[] { $"enter {i}", $"exit {i}" }).ToList();
        var backward = Enumerable.Range(0, blocks).Reverse().SelectMany(i => new[] { $"enter {i} r", $"exit {i} r" })
            .ToList();

        var residency = new RecordingResidency();
        rig.Model.Runner.Residency = residency;
        rig.Gradients(checkpointing: true);
        output.WriteLine(string.Join(", ", residency.Calls));
        Assert.Equal(forward.Concat(backward), residency.Calls);

        residency.Calls.Clear();
        rig.Gradients(checkpointing: false);
        Assert.Equal(forward, residency.Calls);

        residency.Calls.Clear();
        rig.Model.Runner.Checkpointing = true;
        using (no_grad()) rig.Forward().Dispose();
        Assert.Equal(forward, residency.Calls); // no gradients recorded: a plain forward, no recompute
    }

    sealed class FailingResidency : IBlockResidency
    {
        public void Enter(int index, bool recompute)
        {
            if (recompute && index == 1)
                throw new InvalidOperationException("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)");
        }
        public void Exit(int index, bool recompute) { }
    }

    [Fact]
    public void AFailingRecomputeSurfacesAsAnExceptionAfterBackward()
    {
        using var rig = new Rig(dropout: 0);
        rig.Model.Runner.Residency = new FailingResidency();
        var e = Assert.Throws<InvalidOperationException>(() => rig.Gradients(checkpointing: true));
        Assert.Contains("CUDA out of memory", e.Message);
        Assert.True(Flux2.Training.OutOfMemoryAdvice.IsOutOfMemory(e));
        rig.Model.Runner.Residency = null;
        rig.Gradients(checkpointing: true); // the failure is reported once, the next step works
    }

    [Fact]
    public void ReleasesTorchSharpsPerOutputGradientBuffers()
    {
        TorchRuntime.EnsureLoaded();
        Assert.True(GradientCheckpoint.OutputCacheReleaseWorks(),
            "TorchSharp's Node._outputCache is no longer reachable: " +
            "checkpointing keeps one extra block output per block");
    }

    [Fact]
    public void CheckpointedTrainingStepsLeaveNoTensors()
    {
        using var rig = new Rig(dropout: 0.1);
        static long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 2; i++) rig.Step(checkpointing: true);
        long before = Live();
        var perStep = new List<long>();
        for (int i = 0; i < 20; i++) { rig.Step(checkpointing: true); perStep.Add(Live() - before); }
        output.WriteLine($"live tensors {before} -> {Live()} over 20 checkpointed steps: " +
            $"[{string.Join(", ", perStep)}]");
        Assert.True(Live() == before, $"checkpointed steps leak {Live() - before} tensors over 20 steps");
    }

    /// <summary>End to end: <c>train.gradient_checkpointing: true</c> trains the tiny-random job (LoRA dropout on) to
    /// the same per-step losses and the same LoRA as the plain backward.</summary>
    [Fact]
    public void TrainingWithCheckpointingMatchesTrainingWithout()
    {
        TorchRuntime.EnsureLoaded();
        var dataset = TempDataset.Create();
        TinyRun Train(bool checkpointing) => TinyRun.Train(
            TempDataset.Job(dataset, TestPaths.TempDir(), steps: 4, extraTrain:
                $"gradient_checkpointing: {(checkpointing ? "true" : "false")}")
                .Replace("network: {type: lora, linear: 4, linear_alpha: 4}",
                    "network: {type: lora, linear: 4, linear_alpha: 4, dropout: 0.2}"));
        var plain = Train(false);
        var checkpointed = Train(true);
        Assert.Contains("gradient checkpointing per block", checkpointed.Log);
        Assert.DoesNotContain("gradient checkpointing per block", plain.Log);
        output.WriteLine($"losses plain [{string.Join(", ", plain.Losses)}], checkpointed " +
            $"[{string.Join(", ", checkpointed.Losses)}]");
        Assert.Equal(4, plain.Losses.Count);
        for (int i = 0; i < plain.Losses.Count; i++)
            Assert.True(Math.Abs(plain.Losses[i] - checkpointed.Losses[i]) <= 1e-6 * Math.Abs(plain.Losses[i]),
                $"step {i + 1}: loss {checkpointed.Losses[i]} vs {plain.Losses[i]}");
        TinyRun.AssertSameLora(plain.Lora, checkpointed.Lora, relative: 1e-6);
    }

    /// <summary>Checkpointed block inputs parked off the device (train.gradient_checkpointing_cpu_offload) come back
    /// bit for bit: the same LoRA gradients as keeping them, every stash given back after the backward pass.</summary>
    [Fact]
    public void OffloadedCheckpointInputsGiveTheSameGradients() => OffloadedInputsMatch(CPU);

    [CudaFact]
    public void OffloadedCheckpointInputsGiveTheSameGradientsOnCuda() => OffloadedInputsMatch(new Device("cuda"));

    void OffloadedInputsMatch(Device device)
    {
        using var rig = new Rig(dropout: 0.25, device);
        var start = rig.DropoutGeneratorState();
        var kept = rig.Gradients(checkpointing: true);
        using var offloader = new Flux2.Nn.Offload.CheckpointInputOffloader(device, minBytes: 0);
        // tiny tensors: move them all
        rig.Model.Runner.InputOffloader = offloader;
        rig.SetDropoutGeneratorState(start);
        int blocks = rig.Model.transformer_blocks.Count + rig.Model.single_transformer_blocks.Count;
        int pendingBeforeBackward = -1;
        var offloaded = rig.Gradients(checkpointing: true, beforeBackward: () =>
            pendingBeforeBackward = offloader.Pending);
        rig.Model.Runner.InputOffloader = null;
        Assert.Equal(blocks, pendingBeforeBackward); // one stash per block: the hidden states really went through it
        Assert.Equal(0, offloader.Pending);
        for (int i = 0; i < kept.Length; i++)
            Assert.True(kept[i].eq(offloaded[i]).all().item<bool>(),
                $"LoRA gradient {i} differs with offloaded checkpoint inputs");
        output.WriteLine($"{device}: {blocks} blocks' inputs offloaded and restored; " +
            $"{kept.Length} LoRA gradients identical");
    }

    /// <summary>A checkpointed tiny rig whose block inputs go through a CPU-mode offloader (every input
    /// moved).</summary>
    static (Rig, Flux2.Nn.Offload.CheckpointInputOffloader) OffloadingRig()
    {
        var rig = new Rig(dropout: 0);
        var offloader = new Flux2.Nn.Offload.CheckpointInputOffloader(CPU, minBytes: 0);
        rig.Model.Runner.InputOffloader = offloader;
        rig.Model.Runner.Checkpointing = true;
        return (rig, offloader);
    }

    [Fact]
    public void AForwardWhoseBackwardNeverCameGivesItsStashesBackAndNothingLeaks()
    {
        var (rig, offloader) = OffloadingRig();
        using var _ = rig; using var __ = offloader;
        static long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var scope = NewDisposeScope()) rig.Forward();   // graph dropped, no backward
        Assert.True(offloader.Pending > 0);
        rig.Step(checkpointing: true);                         // the next backward pass gives the orphans back
        Assert.Equal(0, offloader.Pending);
        long before = Live();
        for (int i = 0; i < 5; i++) rig.Step(checkpointing: true);
        Assert.True(Live() == before,
            $"steps with offloaded checkpoint inputs leak {Live() - before} tensors over 5 steps");
        Assert.Equal(0, offloader.Pending);
        rig.Model.Runner.InputOffloader = null;
    }

    /// <summary>A step skipped for a non-finite loss drops its graph without a backward pass: the trainer gives that
    /// forward's stashes back at once (<see cref="BlockRunner.DiscardForward"/>).</summary>
    [Fact]
    public void ADiscardedForwardGivesItsStashesBackAtOnce()
    {
        var (rig, offloader) = OffloadingRig();
        using var _ = rig; using var __ = offloader;
        using (var scope = NewDisposeScope()) rig.Forward();
        Assert.True(offloader.Pending > 0);
        rig.Model.Runner.DiscardForward();
        Assert.Equal(0, offloader.Pending);
        rig.Model.Runner.InputOffloader = null;
    }

    [Fact]
    public void ASecondBackwardThroughTheSameGraphWithOffloadedInputsSaysWhy()
    {
        var (rig, offloader) = OffloadingRig();
        using var _ = rig; using var __ = offloader;
        using var scope = NewDisposeScope();
        var loss = rig.Forward().pow(2).mean();
        loss.backward(retain_graph: true);
        rig.Model.Runner.Session.ThrowIfBackwardFailed();
        loss.backward();
        var e = Assert.Throws<InvalidOperationException>(rig.Model.Runner.Session.ThrowIfBackwardFailed);
        Assert.Contains("retain_graph", e.Message);
        Assert.Contains("gradient_checkpointing_cpu_offload", e.Message);
        rig.Model.Runner.InputOffloader = null;
    }
}
