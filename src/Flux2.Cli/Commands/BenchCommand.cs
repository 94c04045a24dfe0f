using System.Diagnostics;
using Flux2.Diagnostics;
using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Pipeline;
using Flux2.Native;
using Flux2.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 bench forward</c>: builds a transformer of a preset size directly on the device with random
/// weights (no download) and times forward passes at a resolution; prints parameters, time and peak GPU memory.</summary>
public static class BenchCommand
{
    public const string Help = """
        ./flux2 bench forward [--config dev|klein-4b|klein-9b|tiny] [--size 1024] [--text-tokens 512]
                              [--device auto|cpu|cuda:N] [--dtype bf16|fp32] [--steps 3]
        ./flux2 bench text-encoder [--config mistral-small|tiny] [--layers 30] [--tokens 512]
                              [--device auto|cpu|cuda:N] [--dtype bf16|fp32] [--steps 3]
          Random weights, built directly on the device (no download). Prints parameters, time, peak GPU memory.
        """ + "\n" + BenchOptimizerCommand.Help + "\n" + BenchOffloadCommand.Help;

    public static int Run(CliArgs args, TextWriter o)
    {
        var what = args.Positional(0, "a benchmark name (forward, text-encoder, optimizer, offload)");
        return what switch
        {
            "forward" => Forward(args, o),
            "text-encoder" => TextEncoder(args, o),
            "optimizer" => BenchOptimizerCommand.Run(args, o),
            "offload" => BenchOffloadCommand.Run(args, o),
            _ => throw new UserError($"bench: unknown benchmark '{what}' (known: forward, text-encoder, optimizer)"),
        };
    }

    static (Device, ScalarType, int) Common(CliArgs args) =>
        (TorchRuntime.Device(args.Get("device", "auto")),
         args.Get("dtype", "bf16") switch { "bf16" => ScalarType.BFloat16, "fp32" => ScalarType.Float32, var d => throw new UserError($"bench: --dtype must be bf16 or fp32, got '{d}'") },
         args.Int("steps", 3));

    static int TextEncoder(CliArgs args, TextWriter o)
    {
        var config = args.Get("config", "mistral-small") switch
        {
            "mistral-small" => MistralConfig.MistralSmall3, "tiny" => MistralConfig.Tiny,
            var c => throw new UserError($"bench: --config for text-encoder must be mistral-small or tiny, got '{c}'"),
        };
        int layers = args.Int("layers", Math.Min(30, config.NumHiddenLayers)), tokens = args.Int("tokens", 512);
        var (device, dtype, steps) = Common(args);
        args.EnsureAllUsed();
        if (layers < 1 || layers > config.NumHiddenLayers) throw new UserError($"bench: --layers must be 1..{config.NumHiddenLayers}");
        int[] outLayers = layers >= 30 ? Flux2PromptEncoder.DefaultOutLayers : new[] { layers };

        using var mem = device.type == DeviceType.CUDA ? GpuMemory.TryStart((uint)Math.Max(0, device.index)) : null;
        var sw = Stopwatch.StartNew();
        using var encoder = new Flux2PromptEncoder(config, outLayers, device, dtype);
        RandomInit.Apply(encoder.Model, seed: 0);
        Sync(device);
        long parameters = encoder.Model.parameters().Sum(p => p.numel());
        o.WriteLine($"built Mistral text encoder, {layers} of {config.NumHiddenLayers} layers, on {device} ({dtype}) in {sw.Elapsed.TotalSeconds:F1} s: {parameters:N0} parameters (formula {config.ParameterCount(layers):N0})");
        using var _ = no_grad();
        using var ids = randint(0, config.VocabSize, new long[] { 1, tokens }, ScalarType.Int64, device);
        using var mask = ones(new long[] { 1, tokens }, ScalarType.Int64, device);
        var times = new List<double>();
        for (int i = 0; i <= steps; i++)
        {
            sw.Restart();
            using var scope = NewDisposeScope();
            var e = encoder.Encode(ids, mask);
            Sync(device);
            if (i > 0) times.Add(sw.Elapsed.TotalMilliseconds);
            o.WriteLine($"  encode {(i == 0 ? "warm-up" : i.ToString())}: {sw.Elapsed.TotalMilliseconds:F0} ms -> [{string.Join(", ", e.shape)}]");
        }
        o.WriteLine($"text encoder {tokens} tokens, layers {string.Join("/", outLayers)}: median {Median(times):F0} ms" +
                    (mem != null ? $", peak GPU memory {mem.PeakGiB:F1} GiB (NVML, includes CUDA context)" : ""));
        return 0;
    }

    static int Forward(CliArgs args, TextWriter o)
    {
        var config = TransformerConfig.ByName(args.Get("config", "dev"));
        int size = args.Int("size", 1024), textTokens = args.Int("text-tokens", 512);
        var (device, dtype, steps) = Common(args);
        args.EnsureAllUsed();
        if (size % 16 != 0) throw new UserError($"bench: --size must be a multiple of 16, got {size}");

        using var mem = device.type == DeviceType.CUDA ? GpuMemory.TryStart((uint)Math.Max(0, device.index)) : null;
        var sw = Stopwatch.StartNew();
        using var model = new Flux2Transformer(config, device, dtype);
        RandomInit.Apply(model, seed: 0);
        Sync(device);
        o.WriteLine($"built {config.NumLayers}+{config.NumSingleLayers}-block transformer on {device} ({dtype}) in {sw.Elapsed.TotalSeconds:F1} s: {model.ParameterCount():N0} parameters (config formula {config.ParameterCount():N0})");
        if (mem != null) o.WriteLine($"GPU memory after build: {mem.UsedGiB:F1} GiB of {mem.TotalGiB:F1} GiB");

        int side = size / 16, imageTokens = side * side;
        using var _ = no_grad();
        using var hidden = randn(new long[] { 1, imageTokens, config.InChannels }, dtype, device);
        using var context = randn(new long[] { 1, textTokens, config.JointAttentionDim }, dtype, device);
        using var t = full(new long[] { 1 }, 0.5f, dtype, device);
        using var g = full(new long[] { 1 }, 4.0f, dtype, device);
        using var imgIds = PositionIds.Image(side, side, device);
        using var txtIds = PositionIds.Text(textTokens, device);
        var times = new List<double>();
        for (int i = 0; i <= steps; i++)
        {
            sw.Restart();
            using var scope = NewDisposeScope();
            var v = model.Forward(hidden, context, t, config.GuidanceEmbeds ? g : null, imgIds, txtIds);
            if (!isfinite(v).all().item<bool>()) throw new InvalidOperationException("forward produced non-finite values");
            Sync(device);
            if (i > 0) times.Add(sw.Elapsed.TotalMilliseconds);
            o.WriteLine($"  forward {(i == 0 ? "warm-up" : i.ToString())}: {sw.Elapsed.TotalMilliseconds:F0} ms");
        }
        o.WriteLine($"forward {size}x{size} ({imageTokens} image + {textTokens} text tokens): median {Median(times):F0} ms" +
                    (mem != null ? $", peak GPU memory {mem.PeakGiB:F1} GiB (NVML, includes CUDA context)" : ""));
        return 0;
    }

    static void Sync(Device d) { if (d.type == DeviceType.CUDA) cuda.synchronize(); }
    static double Median(List<double> xs) { var s = xs.OrderBy(x => x).ToList(); return s.Count == 0 ? double.NaN : s[s.Count / 2]; }
}
