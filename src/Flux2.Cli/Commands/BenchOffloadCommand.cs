using System.Diagnostics;
using System.Globalization;
using Flux2.Diagnostics;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Offload;
using Flux2.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 bench offload</c>: the GPU self-test of layer offloading. Builds a transformer with
/// random bf16 weights on CUDA, times inference forwards with every block resident, then attaches
/// <see cref="BlockOffloader"/> and times the same forwards with blocks streamed from pinned memory. The outputs must
/// be bit-identical (same kernels on the same bytes); prints time, peak GPU memory, achieved host-to-device bandwidth
/// and how much of the copy time the compute hid.</summary>
public static class BenchOffloadCommand
{
    public const string Help = """
        ./flux2 bench offload [--config dev|klein-9b|klein-4b|tiny] [--size 1024] [--text-tokens 512] [--percent 0.5]
                              [--slots 2] [--steps 3] [--device cuda]
          Inference forward with and without layer offloading (random bf16 weights): checks the outputs are identical,
          prints forward time, peak GPU memory, H2D GB/s and the share of copy time hidden behind compute.
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var config = TransformerConfig.ByName(args.Get("config", "dev"));
        int size = args.Int("size", 1024, 16, Flux2Pipeline.MaxImageSide),
            textTokens = args.Int("text-tokens", 512, 1, 32_768), steps = args.Int("steps", 3, 1, 100_000),
            slots = args.Int("slots", 2, 1, 1000);
        var percentText = args.Get("percent", "0.5");
        var device = TorchRuntime.Device(args.Get("device", "cuda"));
        args.EnsureAllUsed();
        if (!double.TryParse(percentText, NumberStyles.Float, CultureInfo.InvariantCulture, out var percent)
            || percent < 0 || percent > 1)
            throw new UserError($"bench offload: --percent must be a number between 0 and 1, got '{percentText}'");
        if (size % 16 != 0) throw new UserError($"bench offload: --size must be a multiple of 16, got {size}");
        if (steps < 1) throw new UserError("bench offload: --steps must be at least 1");
        if (device.type != DeviceType.CUDA)
            throw new UserError($"bench offload: layer offloading needs CUDA (got --device {device})");

        using var mem = GpuMemory.TryStart((uint)Math.Max(0, device.index));
        var dtype = ScalarType.BFloat16;
        using var model = new Flux2Transformer(config, device, dtype);
        RandomInit.Apply(model, seed: 0);
        cuda.synchronize(device);
        o.WriteLine($"built {config.NumLayers}+{config.NumSingleLayers}-block transformer on {device} (bf16): " +
            $"{model.ParameterCount():N0} parameters" +
                    (mem != null ? $", GPU memory {mem.UsedGiB:F1} GiB" : ""));

        int side = size / 16, imageTokens = side * side;
        using var _ = no_grad();
        using var hidden = randn(new long[] { 1, imageTokens, config.InChannels }, dtype, device);
        using var context = randn(new long[] { 1, textTokens, config.JointAttentionDim }, dtype, device);
        using var t = full(new long[] { 1 }, 0.5f, dtype, device);
        using var g = full(new long[] { 1 }, 4.0f, dtype, device);
        using var imgIds = PositionIds.Image(side, side, device);
        using var txtIds = PositionIds.Text(textTokens, device);
        Tensor Forward() => model.Forward(hidden, context, t, config.GuidanceEmbeds ? g : null, imgIds, txtIds);

        o.WriteLine($"resident: {size}x{size} ({imageTokens} image + {textTokens} text tokens)");
        mem?.ResetPeak();
        var (baseMs, reference) = Time(Forward, steps, device, o, null);
        double basePeak = mem?.PeakGiB ?? double.NaN;

        var blocks = model.transformer_blocks.Cast<TorchSharp.torch.nn.Module>()
            .Concat(model.single_transformer_blocks).ToList();
        var checksums = blocks.Select(Checksum).ToArray();
        using var offloader = TransformerOffloading.Attach(model, percent, slots, measureCopies: true);
        cuda.synchronize(device);
        o.WriteLine(offloader.Report.ToString());
        if (mem != null) o.WriteLine($"GPU memory after attach: {mem.UsedGiB:F1} GiB");
        offloader.TakeCopyStats(); // the initial prefetch is not part of a forward
        o.WriteLine($"offloaded ({percent:P0}, {slots} slots per block layout):");
        mem?.ResetPeak();
        var copies = new List<CopyStats>();
        var (offMs, output) = Time(Forward, steps, device, o, () =>
        {
            var c = offloader.TakeCopyStats(); copies.Add(c);
            return c;
        });
        double offPeak = mem?.PeakGiB ?? double.NaN;

        // A checkpointed backward recomputes blocks in descending order: walk that order through the offloader and
        // check every block sees exactly its own weights, then run one more forward (the turnaround back).
        int mismatched = 0;
        for (int i = blocks.Count - 1; i >= 0; i--)
        {
            offloader.Enter(i, recompute: true);
            if (Checksum(blocks[i]) != checksums[i]) mismatched++;
            offloader.Exit(i, recompute: true);
        }
        using (var again = Forward())
            if (!again.eq(output).all().item<bool>()) mismatched++;
        offloader.TakeCopyStats();

        bool identical = mismatched == 0 && output.shape.SequenceEqual(reference.shape)
            && output.eq(reference).all().item<bool>();
        string diff = identical ? ""
            : $" (max |difference| " +
                $"{(output.to(ScalarType.Float32) - reference.to(ScalarType.Float32)).abs().max().item<float>():G3})";
        var steady = copies.Skip(1).DefaultIfEmpty(copies[0]).ToList();
        double copyMs = steady.Average(c => c.Milliseconds), copyGB = steady.Average(c => c.Bytes) / 1e9;
        double exposed = Math.Max(0, offMs - baseMs);
        double hidden01 = copyMs > 0 ? Math.Clamp((copyMs - exposed) / copyMs, 0, 1) : 1;

        o.WriteLine();
        o.WriteLine($"outputs with and without offloading: {(identical ? "bit-identical" : "DIFFERENT" + diff)}");
        string descending = mismatched == 0
            ? $"all {blocks.Count} blocks saw their own weights, and the forward after it matched"
            : $"{mismatched} MISMATCHES";
        o.WriteLine($"descending (recompute-order) pass: {descending}");
        o.WriteLine($"forward median: resident {baseMs:F0} ms, offloaded {offMs:F0} ms " +
            $"({(offMs / baseMs - 1) * 100:+0.0;-0.0}%)");
        if (mem != null)
            o.WriteLine($"peak GPU memory (NVML, includes CUDA context): " +
                $"resident {basePeak:F1} GiB, offloaded {offPeak:F1} GiB");
        o.WriteLine($"copies per forward: {steady.Average(c => c.Copies):F0} blocks, {copyGB:F2} GB in {copyMs:F0} " +
            $"ms of copy-stream time = {(copyMs > 0 ? copyGB / (copyMs / 1000) : 0):F1} GB/s");
        o.WriteLine($"copy time hidden behind compute: {hidden01:P0} (exposed {exposed:F0} ms of {copyMs:F0} ms)");
        output.Dispose(); reference.Dispose();
        return identical ? 0 : 1;
    }

    /// <summary>Sum of all of a block's weights in float64: equal sums mean the block computes with the same
    /// bytes.</summary>
    static double Checksum(TorchSharp.torch.nn.Module block)
    {
        using var scope = NewDisposeScope();
        return block.parameters().Select(p => p.to(ScalarType.Float64).sum()).Aggregate((a, b) => a + b).item<double>();
    }

    /// <summary>A warm-up forward then <paramref name="steps"/> timed ones; returns the median and the last
    /// output.</summary>
    static (double MedianMs, Tensor Last) Time(Func<Tensor> forward, int steps, Device device, TextWriter o,
        Func<CopyStats>? copies)
    {
        var times = new List<double>();
        Tensor? last = null;
        var sw = new Stopwatch();
        for (int i = 0; i <= steps; i++)
        {
            last?.Dispose();
            cuda.synchronize(device);
            sw.Restart();
            using (var scope = NewDisposeScope())
            {
                last = forward().DetachFromDisposeScope();
                cuda.synchronize(device);
            }
            double ms = sw.Elapsed.TotalMilliseconds;
            if (i > 0) times.Add(ms);
            var c = copies?.Invoke();
            o.WriteLine($"  forward {(i == 0 ? "warm-up" : i.ToString())}: {ms:F0} ms" +
                (c is { } s ? $"; {s.Copies} block copies, {s.Bytes / 1e9:F2} GB, {s.GBPerSecond:F1} GB/s" : ""));
        }
        if (!isfinite(last!).all().item<bool>())
            throw new InvalidOperationException("forward produced non-finite values");
        return (BenchCommand.Median(times), last!);
    }
}
