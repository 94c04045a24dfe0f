using Flux2.IO;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Offload;
using Flux2.Nn.Quantization;
using Flux2.Pipeline;
using Flux2.Tests.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Nn;

/// <summary>
/// Building and loading a transformer whose offloaded blocks never sit on the GPU whole (memory tier A): the blocks
/// are built in CPU memory (<see cref="TransformerOffloading.HostBlocks"/>) and written only inside
/// <see cref="IOffloadedModules.Fill"/>.
/// On the CPU, <see cref="HostStaging"/> plays the offloader's part with the same contract (placeholders outside a
/// fill, a fresh "slot" holding the block's current values inside it), so the walk of <see cref="RandomInit"/> and
/// <see cref="ModuleLoader"/> through the offloaded blocks is checked here; the [CudaFact]s check
/// <see cref="TransformerOffloading.Build"/> itself bit for bit on a GPU.
/// </summary>
[Collection(TorchGlobalRngCollection.Name)] // RandomInit seeds libtorch's global generator
public class OffloadedBuildTests
{
    static readonly string TinyFolder = Path.Combine(TestPaths.Tiny, "transformer");

    public OffloadedBuildTests() => TorchRuntime.EnsureLoaded();

    static IReadOnlyList<nn.Module> Blocks(Flux2Transformer m) => m.transformer_blocks.Cast<nn.Module>()
        .Concat(m.single_transformer_blocks).ToList();

    /// <summary>The offloader's contract in CPU memory: every chosen block's tensors point at empty placeholders, its
    /// values wait in a host copy, and a fill points them at a fresh copy (the "slot"), then keeps what it
    /// wrote.</summary>
    sealed class HostStaging : IOffloadedModules, IDisposable
    {
        sealed record Held(string[] Names, Tensor[] Tensors, Tensor[] Host);
        readonly Dictionary<nn.Module, Held> held = new(ReferenceEqualityComparer.Instance);
        public List<nn.Module> Filled { get; } = new();

        public HostStaging(IEnumerable<nn.Module> blocks)
        {
            foreach (var b in blocks)
            {
                var named = b.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(b.named_buffers())
                    .ToArray();
                var h = new Held(named.Select(n => n.Item1).ToArray(), named.Select(n => n.Item2).ToArray(),
                    named.Select(n => n.Item2.clone()).ToArray());
                PointAt(h.Tensors, h.Tensors.Select(t => empty(new long[] { 0 }, t.dtype)).ToArray());
                held[b] = h;
            }
        }

        static void PointAt(Tensor[] tensors, Tensor[] sources)
        {
            using var _ = no_grad();
            for (int i = 0; i < tensors.Length; i++) tensors[i].set_(sources[i]);
        }

        public bool IsOffloaded(nn.Module module) => held.ContainsKey(module);

        public IReadOnlyDictionary<string, long[]> ShapesOf(nn.Module module)
        {
            var h = held[module];
            return h.Names.Zip(h.Host, (n, t) => (n, t.shape)).ToDictionary(x => x.n, x => x.shape);
        }

        public void Fill(nn.Module module, Action fill)
        {
            var h = held[module];
            Filled.Add(module);
            var slot = h.Host.Select(t => t.clone()).ToArray();
            PointAt(h.Tensors, slot);
            fill();
            using (no_grad()) for (int i = 0; i < slot.Length; i++) h.Host[i].copy_(slot[i]);
            PointAt(h.Tensors, h.Tensors.Select(t => empty(new long[] { 0 }, t.dtype)).ToArray());
            foreach (var t in slot) t.Dispose();
        }

        /// <summary>Gives every block its values back for good (the forward has no residency hook here).</summary>
        public void Restore() { foreach (var h in held.Values) PointAt(h.Tensors, h.Host); }

        public void Dispose() { foreach (var h in held.Values) foreach (var t in h.Host) t.Dispose(); }
    }

    static Dictionary<string, Tensor> State(nn.Module m) =>
        m.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(m.named_buffers())
            .ToDictionary(x => x.Item1, x => x.Item2);

    static void AssertSameWeights(Flux2Transformer expected, Flux2Transformer actual)
    {
        var a = State(expected);
        var b = State(actual);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, t) in a)
        {
            Assert.True(t.shape.SequenceEqual(b[name].shape),
                $"{name}: shape [{string.Join(",", b[name].shape)}], expected [{string.Join(",", t.shape)}]");
            Assert.True(t.dtype == b[name].dtype, $"{name}: {b[name].dtype}, expected {t.dtype}");
            Assert.True(Bytes(t).SequenceEqual(Bytes(b[name])), $"{name} differs");
        }
    }

    /// <summary>A CPU tensor's raw bytes: bit identity, for fp8 codes too (and +0 vs -0 counts as a
    /// difference).</summary>
    static byte[] Bytes(Tensor t)
    {
        var bytes = new byte[TensorPointer.Bytes(t)];
        if (bytes.Length > 0) System.Runtime.InteropServices.Marshal.Copy(TensorPointer.Of(t), bytes, 0, bytes.Length);
        return bytes;
    }

    static Tensor Forward(Flux2Transformer m, Device device)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gen = new Generator(11, device: CPU);
        var c = m.Config;
        var dtype = m.x_embedder.weight.dtype;
        var hidden = randn(new long[] { 1, 16, c.InChannels }, generator: gen).to(dtype).to(device);
        var context = randn(new long[] { 1, 8, c.JointAttentionDim }, generator: gen).to(dtype).to(device);
        var t = full(new long[] { 1 }, 0.5f, dtype, device);
        var g = full(new long[] { 1 }, 4.0f, dtype, device);
        return m.Forward(hidden, context, t, c.GuidanceEmbeds ? g : null, PositionIds.Image(4, 4, device),
            PositionIds.Text(8, device)).MoveToOuterDisposeScope();
    }

    static QuantType? Quant(string name) => name == "bf16" ? null : QuantType.Parse(name);

    [Fact]
    public void HostBlocksAreBuiltInCpuMemoryAndEverythingElseOnTheDevice()
    {
        var meta = new Device(DeviceType.META);   // a device other than the CPU that needs no memory
        var host = OffloadPlan.ChooseBlocks(4, 0.5);
        using var model = new Flux2Transformer(TransformerConfig.Tiny, meta, ScalarType.BFloat16, QuantType.Float8,
                                              TransformerOffloading.HostBlocks(TransformerConfig.Tiny, host));
        var blocks = Blocks(model);
        for (int i = 0; i < blocks.Count; i++)
            Assert.All(blocks[i].parameters(), p => Assert.Equal(host.Contains(i) ? DeviceType.CPU : DeviceType.META,
                p.device_type));
        var outsideBlocks = model.named_parameters().Where(p => !p.name.Contains("transformer_blocks.")).ToList();
        Assert.NotEmpty(outsideBlocks);
        Assert.All(outsideBlocks, p => Assert.Equal(DeviceType.META, p.parameter.device_type));
        using var plain = new Flux2Transformer(TransformerConfig.Tiny, meta, ScalarType.BFloat16, QuantType.Float8);
        Assert.Equal(plain.named_parameters()
            .Select(p => $"{p.name}:{p.parameter.dtype}[{string.Join(",", p.parameter.shape)}]"),
                     model.named_parameters()
                         .Select(p => $"{p.name}:{p.parameter.dtype}[{string.Join(",", p.parameter.shape)}]"));
    }

    [Fact]
    public void HostBlocksOutsideTheModelAreRefused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Flux2Transformer(TransformerConfig.Tiny,
            blockDevice: TransformerOffloading.HostBlocks(TransformerConfig.Tiny, new[] { 1, 4 })));
        Assert.Contains("blocks 0..3", e.Message);
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("qfloat8")]
    [InlineData("qint8")]
    public void StagedRandomInitGivesTheWeightsOfTheWholeModelInit(string quant)
    {
        using var whole = new Flux2Transformer(TransformerConfig.Tiny, CPU, ScalarType.BFloat16, Quant(quant));
        RandomInit.Apply(whole, seed: 3);

        var host = OffloadPlan.ChooseBlocks(4, 0.5);
        using var staged = new Flux2Transformer(TransformerConfig.Tiny, CPU, ScalarType.BFloat16, Quant(quant),
                                               TransformerOffloading.HostBlocks(TransformerConfig.Tiny, host));
        var blocks = Blocks(staged);
        using var staging = new HostStaging(host.Select(i => blocks[i]));
        RandomInit.Apply(staged, seed: 3, staging);
        Assert.Equal(host.Select(i => blocks[i]), staging.Filled);   // each offloaded block filled once, in order
        staging.Restore();

        AssertSameWeights(whole, staged);
        using var expected = Forward(whole, CPU);
        using var actual = Forward(staged, CPU);
        Assert.True(expected.eq(actual).all().item<bool>());
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("qfloat8")]
    public void StagedLoadGivesTheWeightsOfTheWholeModelLoad(string quant)
    {
        var config = Flux2TransformerFiles.FolderConfig(TinyFolder);
        using var whole = Flux2TransformerFiles.FromFolder(TinyFolder, CPU, ScalarType.BFloat16, Quant(quant));

        int count = config.NumLayers + config.NumSingleLayers;
        var host = OffloadPlan.ChooseBlocks(count, 0.75);
        using var staged = new Flux2Transformer(config, CPU, ScalarType.BFloat16, Quant(quant),
                                               TransformerOffloading.HostBlocks(config, host));
        var blocks = Blocks(staged);
        using var staging = new HostStaging(host.Select(i => blocks[i]));
        using (var source = TransformerCheckpoint.Open(TinyFolder))
            ModuleLoader.Load(staged, source, offloaded: staging);
        Assert.Equal(host.Select(i => blocks[i]), staging.Filled);
        staging.Restore();

        AssertSameWeights(whole, staged);
    }

    [Fact]
    public void AWrongShapeInsideAnOffloadedBlockIsReportedBeforeAnyBlockIsFilled()
    {
        var config = Flux2TransformerFiles.FolderConfig(TinyFolder);
        var wrong = config
            with
        { MlpRatio = config.MlpRatio * 2 };   // every block's feed-forward is larger than the file's
        var host = OffloadPlan.ChooseBlocks(wrong.NumLayers + wrong.NumSingleLayers, 1.0);
        using var staged = new Flux2Transformer(wrong, CPU, blockDevice: TransformerOffloading.HostBlocks(wrong, host));
        var blocks = Blocks(staged);
        using var staging = new HostStaging(host.Select(i => blocks[i]));
        using var source = TransformerCheckpoint.Open(TinyFolder);
        var e = Assert.Throws<WeightLoadException>(() => ModuleLoader.Load(staged, source, offloaded: staging));
        Assert.Contains("transformer_blocks.0.ff.linear_in.weight",
            e.Message);   // the real shape, not the placeholder's [0]
        Assert.DoesNotContain("implies [0]", e.Message);
        Assert.Empty(staging.Filled);
    }

    [Fact]
    public void OffloadingOnTheCpuIsRefusedBeforeAnythingIsBuilt()
    {
        var e = Assert.Throws<InvalidOperationException>(() => TransformerOffloading.Build(
            TransformerConfig.Tiny, CPU, null, null, 0.5, (_, _) => Assert.Fail("no fill without CUDA")));
        Assert.Contains("layer offloading needs CUDA", e.Message);
        var l = Assert.Throws<InvalidOperationException>(() =>
            Flux2Models.Load(Flux2Models.TinyRandom, CPU, layerOffloading: 0.5));
        Assert.Contains("layer offloading needs CUDA", l.Message);
    }

    // ---- on a GPU: TransformerOffloading.Build itself ----

    [CudaTheory]
    [InlineData("bf16")]
    [InlineData("qfloat8")]
    public void BuiltThroughSlotsIsBitIdenticalToBuiltWhole(string quant)
    {
        var device = CUDA;
        using var whole = new Flux2Transformer(TransformerConfig.Tiny, device, ScalarType.BFloat16, Quant(quant));
        RandomInit.Apply(whole, seed: 3);
        using var expected = Forward(whole, device);

        var (model, offloader) = TransformerOffloading.Build(TransformerConfig.Tiny, device, ScalarType.BFloat16,
                                                             Quant(quant), 0.5,
                                                             (m, o) => RandomInit.Apply(m, seed: 3, o));
        using var _m = model;
        using var _o = offloader;
        Assert.Equal(new[] { 1, 3 }, offloader.Report.Offloaded);
        var blocks = Blocks(model);
        Assert.All(offloader.Report.Offloaded, i => Assert.All(blocks[i].parameters(), p =>
        {
            Assert.Equal(0, p.numel());                       // a placeholder: the block's weights are in pinned memory
            Assert.Equal(DeviceType.CUDA, p.device_type);
        }));
        Assert.Equal(whole.ParameterCount(), model.ParameterCount());
        for (int i = 0; i < 2; i++)
        {
            using var actual = Forward(model, device);
            Assert.True(actual.eq(expected).all().item<bool>(), $"forward {i} differs from the model built whole");
        }
    }

    [CudaTheory]
    [InlineData("bf16")]
    [InlineData("qfloat8")]
    public void LoadedThroughSlotsIsBitIdenticalToLoadedWhole(string quant)
    {
        var device = CUDA;
        using var whole = Flux2TransformerFiles.FromFolder(TinyFolder, device, ScalarType.BFloat16, Quant(quant));
        using var expected = Forward(whole, device);
        using var source = TransformerCheckpoint.Open(TinyFolder);
        var (model, offloader) = TransformerOffloading.Build(Flux2TransformerFiles.FolderConfig(TinyFolder), device,
            ScalarType.BFloat16, Quant(quant), 0.75, (m, o) => ModuleLoader.Load(m, source, offloaded: o));
        using var _m = model;
        using var _o = offloader;
        using var actual = Forward(model, device);
        Assert.True(actual.eq(expected).all().item<bool>(),
            "the model loaded through the slots differs from the one loaded whole");
    }

    [CudaFact]
    public void TinyRandomWithOffloadingHasTheSameTransformer()
    {
        var device = CUDA;
        using var plain = Flux2Models.CreateTinyRandom(0, device);
        using var expected = Forward(plain.Transformer, device);
        using var offloaded = Flux2Models.CreateTinyRandom(0, device, layerOffloading: 0.5);
        Assert.NotNull(offloaded.Offloader);
        Assert.Same(offloaded.Offloader, offloaded.Transformer.Runner.Residency);
        using var actual = Forward(offloaded.Transformer, device);
        Assert.True(actual.eq(expected).all().item<bool>());
    }

    [CudaFact]
    public void UnfilledBlocksAndLateFillsAreRefused()
    {
        var device = CUDA;
        var e = Assert.Throws<InvalidOperationException>(() => TransformerOffloading.Build(
            TransformerConfig.Tiny, device, ScalarType.BFloat16, null, 0.5, (_, _) => { }));
        Assert.Contains("never filled", e.Message);

        var (model, offloader) = TransformerOffloading.Build(TransformerConfig.Tiny, device, ScalarType.BFloat16, null,
                                                             0.5, (m, o) => RandomInit.Apply(m, seed: 3, o));
        using var _m = model;
        using var _o = offloader;
        using (var y = Forward(model, device)) { }
        var late = Assert.Throws<InvalidOperationException>(() => offloader.Fill(Blocks(model)[1], () => { }));
        Assert.Contains("before streaming starts", late.Message);
    }
}
