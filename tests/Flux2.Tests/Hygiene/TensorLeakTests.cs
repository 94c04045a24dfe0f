using System.Text.Json;
using Flux2.IO;
using Flux2.Lora;
using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Quantization;
using Flux2.Pipeline;
using Flux2.Sampling;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Hygiene;

/// <summary>Process RSS is global: these tests run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(HygieneCollection), DisableParallelization = true)]
public sealed class HygieneCollection;

/// <summary>
/// TorchSharp hygiene: every public forward path, run in a loop on the flux2-tiny fixture, must leave no native
/// tensor alive once the caller has disposed what it received. The count is TorchSharp's per-thread
/// <c>DisposeScopeManager.Statistics.ThreadTotalLiveCount</c> (tensors created on this thread minus those disposed on
/// it), so a tensor that is only reclaimed later by the GC finalizer still counts as a leak, and tests running on
/// other threads do not disturb it. <see cref="torch.Tensor.TotalCount"/> (process-wide) is printed for information.
/// </summary>
[Collection(nameof(HygieneCollection))]
public class TensorLeakTests(ITestOutputHelper output)
{
    const int WarmUp = 2, Iterations = 20;
    static string Tiny => TestPaths.Tiny;

    static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>Runs <paramref name="iteration"/> <see cref="WarmUp"/> times, then <see cref="Iterations"/> times,
    /// and asserts that the thread's live tensor count after the loop equals the count before it.</summary>
    void AssertNoTensorGrowth(string name, Action iteration)
    {
        for (int i = 0; i < WarmUp; i++) iteration();
        long before = Live, totalBefore = torch.Tensor.TotalCount;
        var perIteration = new List<long>(Iterations);
        for (int i = 0; i < Iterations; i++)
        {
            iteration();
            perIteration.Add(Live - before);
        }
        long growth = Live - before;
        output.WriteLine($"{name}: live tensors on this thread {before} -> {Live} over {Iterations} iterations " +
                         $"(growth {growth}, per iteration [{string.Join(", ", perIteration)}]); " +
                         $"process-wide Tensor.TotalCount {totalBefore} -> {torch.Tensor.TotalCount}");
        Assert.True(growth == 0,
            $"{name} leaks {growth} tensors over {Iterations} iterations ({(double)growth / Iterations:F1} per call)");
    }

    /// <summary>The counter must see a tensor that is neither disposed nor scoped — otherwise every test here is
    /// vacuous.</summary>
    [Fact]
    public void CounterSeesALeakedTensorAndIgnoresADisposedOne()
    {
        TorchRuntime.EnsureLoaded();
        long before = Live;
        using (var ok = zeros(3)) { }
        Assert.Equal(before, Live);
        var leaked = zeros(3);
        Assert.Equal(before + 1, Live);
        var e = Assert.ThrowsAny<Exception>(() => AssertNoTensorGrowth("deliberate leak", () => ones(2).add_(1)));
        Assert.Contains("leaks 20 tensors", e.Message);
        leaked.Dispose();
    }

    sealed class TransformerInputs(SafetensorsSource io) : IDisposable
    {
        public readonly Tensor Hidden = io.Read("hidden_states"), Context = io.Read("encoder_hidden_states"),
            Timestep = io.Read("timestep"), Guidance = io.Read("guidance"), ImgIds = io.Read("img_ids"),
            TxtIds = io.Read("txt_ids");
        public Tensor Run(Flux2Transformer m) => m.Forward(Hidden, Context, Timestep, Guidance, ImgIds, TxtIds);
        public void Dispose()
        {
            foreach (var t in new[] { Hidden, Context, Timestep, Guidance, ImgIds, TxtIds })
                t.Dispose();
        }
    }

    static TransformerInputs ReadTransformerInputs()
    {
        using var io = SafetensorsSource.OpenFile(Path.Combine(Tiny, "transformer_io.safetensors"));
        return new TransformerInputs(io);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TransformerForwardLeavesNoTensors(bool withGrad)
    {
        TorchRuntime.EnsureLoaded();
        using var model = Flux2TransformerFiles.FromFolder(Path.Combine(Tiny, "transformer"));
        using var inputs = ReadTransformerInputs();
        using var _ = enable_grad(withGrad);
        AssertNoTensorGrowth($"Flux2Transformer.Forward (grad {(withGrad ? "on" : "off")})",
            () => { using var o = inputs.Run(model); });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TransformerForwardWithLoraLeavesNoTensors(bool withGrad)
    {
        TorchRuntime.EnsureLoaded();
        using var model = Flux2TransformerFiles.FromFolder(Path.Combine(Tiny, "transformer"));
        var adapters = LoraLoader.Apply(model, Path.Combine(Tiny, "lora", "pytorch_lora_weights.safetensors"));
        Assert.NotEmpty(adapters);
        using var inputs = ReadTransformerInputs();
        using var _ = enable_grad(withGrad);
        AssertNoTensorGrowth($"Flux2Transformer.Forward + LoRA (grad {(withGrad ? "on" : "off")})",
            () => { using var o = inputs.Run(model); });
    }

    /// <summary>A quantized Linear trained without gradient checkpointing: its backward runs in our custom function,
    /// outside any DisposeScope; the gradient handles it receives and returns must still be freed.</summary>
    [Fact]
    public void QuantizedLinearBackwardLeavesNoTensors()
    {
        TorchRuntime.EnsureLoaded();
        manual_seed(3);
        using var lin = new Flux2.Nn.Linear(32, 48, dtype: ScalarType.Float32, quant: QuantType.Int8);
        RandomInit.Apply(lin, seed: 3);
        using var x = randn(4, 32).requires_grad_(true);
        AssertNoTensorGrowth("quantized Linear forward + backward", () =>
        {
            using var scope = NewDisposeScope();
            var loss = lin.forward(x).square().sum();
            loss.backward();
            x.grad?.zero_();
        });
    }

    [Fact]
    public void VaePathsLeaveNoTensors()
    {
        TorchRuntime.EnsureLoaded();
        using var vae = AutoencoderKLFlux2.FromFolder(Path.Combine(Tiny, "vae"));
        using var io = SafetensorsSource.OpenFile(Path.Combine(Tiny, "vae_io.safetensors"));
        using var image = io.Read("image");
        using var z = io.Read("z");
        using var latent = io.Read("latent_patchified_normalized");
        using var _ = no_grad();
        AssertNoTensorGrowth("AutoencoderKLFlux2.Encode", () => { using var d = vae.Encode(image); });
        AssertNoTensorGrowth("AutoencoderKLFlux2.Encode + Sample/Mode", () =>
        {
            using var d = vae.Encode(image);
            using var s = d.Sample();
            using var m = d.Mode();
        });
        AssertNoTensorGrowth("AutoencoderKLFlux2.Decode", () => { using var o = vae.Decode(z); });
        AssertNoTensorGrowth("AutoencoderKLFlux2.forward", () => { using var o = vae.forward(image); });
        AssertNoTensorGrowth("AutoencoderKLFlux2.EncodeToTrainingLatent",
            () => { using var o = vae.EncodeToTrainingLatent(image); });
        AssertNoTensorGrowth("AutoencoderKLFlux2.DecodeFromTrainingLatent",
            () => { using var o = vae.DecodeFromTrainingLatent(latent); });
    }

    [Fact]
    public void PromptEncoderLeavesNoTensors()
    {
        TorchRuntime.EnsureLoaded();
        using var enc = Flux2PromptEncoder.FromFolder(Path.Combine(Tiny, "text_encoder"), new[] { 1, 2, 3 });
        using var io = SafetensorsSource.OpenFile(Path.Combine(Tiny, "text_encoder_io.safetensors"));
        using var ids = io.Read("input_ids");
        using var mask = io.Read("attention_mask");
        AssertNoTensorGrowth("Flux2PromptEncoder.Encode", () => { using var o = enc.Encode(ids, mask); });
        AssertNoTensorGrowth("Flux2PromptEncoder.Encode (no mask)", () => { using var o = enc.Encode(ids, null); });
        using var _ = no_grad();
        AssertNoTensorGrowth("MistralTextModel.HiddenStates", () =>
        {
            foreach (var h in enc.Model.HiddenStates(ids, mask, new[] { 0, 2, 3 })) h.Dispose();
        });
    }

    [Fact]
    public void PipelineGenerateLeavesNoTensors()
    {
        TorchRuntime.EnsureLoaded();
        using var fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(Tiny, "fixture.json")));
        int steps = fixture.RootElement.GetProperty("steps").GetInt32();
        using var transformer = Flux2TransformerFiles.FromFolder(Path.Combine(Tiny, "transformer"));
        using var vae = AutoencoderKLFlux2.FromFolder(Path.Combine(Tiny, "vae"));
        var pipe = new Flux2Pipeline(transformer, vae,
            FlowMatchEulerScheduler.FromJson(Path.Combine(Tiny, "scheduler", "scheduler_config.json")));
        using var io = SafetensorsSource.OpenFile(Path.Combine(Tiny, "pipeline_io.safetensors"));
        using var embeds = io.Read("prompt_embeds");
        using var noise = io.Read("initial_latents");
        using var g = io.Read("guidance");
        float guidance = g.data<float>()[0];
        using var reference = rand(3, 32, 32) * 2 - 1;
        AssertNoTensorGrowth("Flux2Pipeline.Generate", () =>
        {
            using var img =
            pipe.Generate(embeds, noise, steps, guidance);
        });
        AssertNoTensorGrowth("Flux2Pipeline.Generate + reference image",
            () => { using var img = pipe.Generate(embeds, noise, steps, guidance, new[] { reference }); });
        AssertNoTensorGrowth("Flux2Pipeline.InitialNoise", () =>
        {
            using var n = pipe.InitialNoise(1, 32, 48, seed: 7);
        });
    }

    static long RssKiB()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:"))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]);
        throw new InvalidOperationException("VmRSS not found in /proc/self/status");
    }

    /// <summary>Resident memory stays flat over 50 transformer forwards (with LoRA, grad off). Managed garbage is
    /// collected before each reading so that only native growth shows.</summary>
    [Fact]
    public void RssStaysFlatOver50TransformerForwards()
    {
        if (!File.Exists("/proc/self/status")) return; // Linux only
        TorchRuntime.EnsureLoaded();
        const int Forwards = 50;
        const long BoundKiB = 16 * 1024;
        // a 16 MiB allowance for allocator noise; one forward's activations here are ~100 KiB
        using var model = Flux2TransformerFiles.FromFolder(Path.Combine(Tiny, "transformer"));
        LoraLoader.Apply(model, Path.Combine(Tiny, "lora", "pytorch_lora_weights.safetensors"));
        using var inputs = ReadTransformerInputs();
        using var _ = no_grad();
        for (int i = 0; i < 5; i++) { using var o = inputs.Run(model); }
        static long Settled() { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); return RssKiB(); }
        long start = Settled(), peak = start;
        var samples = new List<long>();
        for (int i = 1; i <= Forwards; i++)
        {
            using (var o = inputs.Run(model)) { }
            if (i % 10 == 0) { var r = Settled(); samples.Add(r); peak = Math.Max(peak, r); }
        }
        long end = samples[^1];
        output.WriteLine($"VmRSS over {Forwards} transformer forwards: start {start} KiB, every 10: " +
            $"[{string.Join(", ", samples)}] KiB, " +
            $"end {end} KiB, growth {end - start} KiB (bound {BoundKiB} KiB), peak {peak} KiB");
        Assert.True(end - start <= BoundKiB,
            $"RSS grew by {end - start} KiB over {Forwards} forwards (bound {BoundKiB} KiB)");
    }
}
