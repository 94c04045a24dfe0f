using System.Diagnostics;
using Flux2.Diagnostics;
using Flux2.Models.Transformer;
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
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var what = args.Positional(0, "a benchmark name (forward)");
        if (what != "forward") throw new UserError($"bench: unknown benchmark '{what}' (known: forward)");
        var config = TransformerConfig.ByName(args.Get("config", "dev"));
        int size = args.Int("size", 1024), textTokens = args.Int("text-tokens", 512), steps = args.Int("steps", 3);
        var device = TorchRuntime.Device(args.Get("device", "auto"));
        var dtype = args.Get("dtype", "bf16") switch { "bf16" => ScalarType.BFloat16, "fp32" => ScalarType.Float32, var d => throw new UserError($"bench: --dtype must be bf16 or fp32, got '{d}'") };
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
        using var imgIds = ImageIds(side, side, device);
        using var txtIds = TextIds(textTokens, device);
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

    /// <summary>(T=0, H=i, W=j, L=0) row-major (reference §3.1).</summary>
    public static Tensor ImageIds(int h, int w, Device device)
    {
        var ii = arange(h, device: device).repeat_interleave(w);
        var jj = arange(w, device: device).repeat(h);
        var z = zeros(h * w, ScalarType.Int64, device);
        return stack(new[] { z, ii, jj, z }, 1).to(ScalarType.Float32);
    }

    /// <summary>(0, 0, 0, l) for each text token (reference §3.2).</summary>
    public static Tensor TextIds(int n, Device device)
    {
        var z = zeros(n, ScalarType.Int64, device);
        return stack(new[] { z, z, z, arange(n, device: device) }, 1).to(ScalarType.Float32);
    }
}
