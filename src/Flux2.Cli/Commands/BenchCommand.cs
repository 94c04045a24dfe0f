using System.Diagnostics;
using Flux2.Diagnostics;
using Flux2.Models.TextEncoder;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Quantization;
using Flux2.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 bench forward</c> (training steps: <see cref="BenchTrainCommand"/>): builds a transformer of a
/// preset size directly on the device with random weights (no download) and times forward passes at a resolution;
/// prints parameters, time and peak GPU memory.</summary>
public static class BenchCommand
{
    public const string Help = """
        ./flux2 bench forward [--config dev|klein-4b|klein-9b|tiny] [--size 1024] [--text-tokens 512]
                              [--device auto|cpu|cuda:N] [--dtype bf16|fp32] [--steps 3]
                              [--qtype qfloat8|qint8|uint2..uint8] [--blocks DOUBLE,SINGLE]
          --qtype: Linear weights quantized layer by layer while building (tiers B/A); the same seeded weights are
          first run unquantized once and the relative error of the output, ||y_q - y|| / ||y||, is printed.
        ./flux2 bench text-encoder [--config mistral-small|tiny] [--layers 30] [--tokens 512]
                              [--device auto|cpu|cuda:N] [--dtype bf16|fp32] [--steps 3]
                              [--qtype qfloat8|qint8|uint2..uint8] [--write-random DIR | --from DIR [--low-vram]]
          --write-random DIR: build the encoder with random weights and stream it to DIR (config.json +
          model.safetensors, one tensor at a time), then stop. --from DIR: load it from there instead of building
          (with --qtype quantized while loading, one tensor at a time; peak process RAM is printed). --low-vram: load
          it into CPU memory and encode on the device one decoder layer at a time, as model.low_vram does in training.
          Random weights, built directly on the device (no download). Prints parameters, time, peak GPU memory.
        """ + "\n" + BenchTrainCommand.Help + "\n" + BenchOptimizerCommand.Help + "\n" + BenchOffloadCommand.Help;

    public static int Run(CliArgs args, TextWriter o)
    {
        var what = args.Positional(0, "a benchmark name (forward, train, text-encoder, optimizer, offload)");
        return what switch
        {
            "forward" => Forward(args, o),
            "train" => BenchTrainCommand.Run(args, o),
            "text-encoder" => TextEncoder(args, o),
            "optimizer" => BenchOptimizerCommand.Run(args, o),
            "offload" => BenchOffloadCommand.Run(args, o),
            _ =>
                throw new UserError($"bench: unknown benchmark '{what}' (known: forward, train, " +
                    "text-encoder, optimizer, offload)"),
        };
    }

    /// <summary>The longest text a bench may ask for: the text encoder's context.</summary>
    const int MaxTokens = 32_768;

    static (Device, ScalarType, int) Common(CliArgs args) =>
        (TorchRuntime.Device(args.Get("device", "auto")),
         args.Get("dtype", "bf16") switch
         {
             "bf16" => ScalarType.BFloat16,
             "fp32" => ScalarType.Float32,
             var d => throw new UserError($"bench: --dtype must be bf16 or fp32, got '{d}'")
         },
         args.Int("steps", 3, 1, 100_000));

    static int TextEncoder(CliArgs args, TextWriter o)
    {
        var config = args.Get("config", "mistral-small") switch
        {
            "mistral-small" => MistralConfig.MistralSmall3,
            "tiny" => MistralConfig.Tiny,
            var c => throw new UserError($"bench: --config for text-encoder must be mistral-small or tiny, got '{c}'"),
        };
        int layers = args.Int("layers", Math.Min(30, config.NumHiddenLayers), 1, config.NumHiddenLayers),
            tokens = args.Int("tokens", 512, 1, MaxTokens);
        var (device, dtype, steps) = Common(args);
        var quant = args.Get("qtype") is string q ? ParseQuant(q) : null;
        string? writeTo = args.Get("write-random"), from = args.Get("from");
        bool lowVram = args.Flag("low-vram");
        args.EnsureAllUsed();
        if (lowVram && (from is null || device.type != DeviceType.CUDA))
            throw new UserError("bench: --low-vram needs --from DIR and a CUDA --device (the weights wait in CPU " +
                "memory, the layers run on the GPU)");
        if (layers < 1 || layers > config.NumHiddenLayers)
            throw new UserError($"bench: --layers must be 1..{config.NumHiddenLayers}");
        if (writeTo is not null && (from is not null || quant is not null))
            throw new UserError("bench: --write-random writes bf16 random weights; " +
                "use it alone, then --from with --qtype");
        int[] outLayers = layers >= 30 ? Flux2PromptEncoder.DefaultOutLayers : new[] { layers };

        using var mem = device.type == DeviceType.CUDA ? GpuMemory.TryStart((uint)Math.Max(0, device.index)) : null;
        var sw = Stopwatch.StartNew();
        Flux2PromptEncoder Build()
        {
            if (from is not null)
            {
                if (!File.Exists(Path.Combine(from, "config.json")))
                    throw new UserError($"bench: --from {from}: no config.json there (write " +
                        $"one with --write-random {from})");
                var loaded = Flux2PromptEncoder.FromFolder(from, outLayers, lowVram ? CPU : device, dtype, quant);
                if (lowVram) loaded.Model.StreamLayersTo = device; // Flux2Models.InUse does this under model.low_vram
                return loaded;
            }
            var built = new Flux2PromptEncoder(config, outLayers, device, dtype, quant);
            RandomInit.Apply(built.Model, seed: 0);
            return built;
        }
        using var encoder = Build();
        Sync(device);
        long parameters = encoder.Model.parameters().Sum(p => p.numel());
        string how = from is not null ? $"loaded from {from}" : "built";
        o.WriteLine($"{how}: Mistral text encoder, {layers} of {config.NumHiddenLayers} layers, on " +
            $"{(lowVram ? $"cpu, layers streamed to {device}" : device.ToString())} " +
            $"({dtype}{(quant is null ? "" : $", {quant.Name} Linear weights")}) in {sw.Elapsed.TotalSeconds:F1} " +
            $"s: {parameters:N0} parameters (formula {config.ParameterCount(layers):N0}); peak process RAM " +
            $"{PeakRssGiB():F1} GiB" +
            (mem != null ? $", GPU {mem.UsedGiB:F1} GiB" : ""));
        if (writeTo is not null)
        {
            WriteRandomEncoder(writeTo, encoder, layers, o);
            return 0;
        }
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
            o.WriteLine($"  encode {(i == 0 ? "warm-up" : i.ToString())}: {sw.Elapsed.TotalMilliseconds:F0} ms -> " +
                $"[{string.Join(", ", e.shape)}]");
        }
        o.WriteLine($"text encoder {tokens} tokens, layers {string.Join("/", outLayers)}: median {Median(times):F0} ms"
            + (mem != null ? $", peak GPU memory {mem.PeakGiB:F1} GiB (NVML, includes CUDA context)" : ""));
        return 0;
    }

    static int Forward(CliArgs args, TextWriter o)
    {
        var config = TransformerConfig.ByName(args.Get("config", "dev"));
        if (args.Get("blocks") is string blocks)
        {
            // Full-width blocks but fewer of them: with random weights a deep stack is chaotic (any perturbation,
            // quantization included, decorrelates the output), so the quantization error is measured on few blocks.
            var parts = blocks.Split(',');
            if (parts.Length != 2 || !int.TryParse(parts[0], out var d) || !int.TryParse(parts[1], out var sgl)
                || d < 0 || sgl < 0 || d + sgl == 0)
                throw new UserError($"bench: --blocks must be DOUBLE,SINGLE block counts such as 1,1, got '{blocks}'");
            config = config with { NumLayers = d, NumSingleLayers = sgl };
        }
        int size = args.Int("size", 1024, 16, Flux2Pipeline.MaxImageSide),
            textTokens = args.Int("text-tokens", 512, 1, MaxTokens);
        var (device, dtype, steps) = Common(args);
        var quant = args.Get("qtype") is string q ? ParseQuant(q) : null;
        args.EnsureAllUsed();
        if (size % 16 != 0) throw new UserError($"bench: --size must be a multiple of 16, got {size}");

        using var mem = device.type == DeviceType.CUDA ? GpuMemory.TryStart((uint)Math.Max(0, device.index)) : null;
        var sw = Stopwatch.StartNew();
        using var model = new Flux2Transformer(config, device, dtype, quant: quant);
        RandomInit.Apply(model, seed: 0);
        Sync(device);
        o.WriteLine($"built {config.NumLayers}+{config.NumSingleLayers}-block transformer on {device} " +
            $"({dtype}{(quant is null ? "" : $", {quant.Name} Linear weights")}) in {sw.Elapsed.TotalSeconds:F1} s: " +
            $"{model.ParameterCount():N0} parameters (config formula {config.ParameterCount():N0})");
        if (mem != null) o.WriteLine($"GPU memory after build: {mem.UsedGiB:F1} GiB of {mem.TotalGiB:F1} GiB");

        int side = size / 16, imageTokens = side * side;
        using var _ = no_grad();
        using var inputs = ForwardInputs.Seeded(config, size, textTokens, device, dtype);
        var times = new List<double>();
        for (int i = 0; i <= steps; i++)
        {
            sw.Restart();
            using var scope = NewDisposeScope();
            var v = inputs.Run(model);
            if (!isfinite(v).all().item<bool>())
                throw new InvalidOperationException("forward produced non-finite values");
            Sync(device);
            if (i > 0) times.Add(sw.Elapsed.TotalMilliseconds);
            o.WriteLine($"  forward {(i == 0 ? "warm-up" : i.ToString())}: {sw.Elapsed.TotalMilliseconds:F0} ms");
        }
        o.WriteLine($"forward {size}x{size} ({imageTokens} image + {textTokens} text tokens): median " +
            $"{Median(times):F0} ms" +
                    (mem != null ? $", peak GPU memory {mem.PeakGiB:F1} GiB (NVML, includes CUDA context)" : ""));
        if (quant is not null)
        {
            // The same seeded weights unquantized (RandomInit draws the same values either way), run after the
            // quantized model is freed so that the peak above is the quantized model's own.
            using var y = inputs.OutputOnCpu(model);
            model.Dispose();
            using var reference = ReferenceOutput(config, inputs, device, dtype, o);
            using var diff = y - reference;
            double error = diff.norm().item<float>() / reference.norm().item<float>();
            o.WriteLine($"{quant!.Name} vs {dtype} output relative error ||y_q - y|| / ||y|| = {error:P2}");
        }
        return 0;
    }

    /// <summary>config.json (with <paramref name="layers"/> layers) + model.safetensors streamed tensor by
    /// tensor.</summary>
    static void WriteRandomEncoder(string folder, Flux2PromptEncoder encoder, int layers, TextWriter o)
    {
        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(folder);
        // The model's own config (all its layers): a loader then builds only the layers FLUX.2 reads and finds
        // them all in the file, as with a real Mistral checkpoint.
        var config = encoder.Model.Config;
        File.WriteAllText(Path.Combine(folder, "config.json"),
            System.Text.Json.JsonSerializer.Serialize(Flux2.Micro.DiffusersFolderWriter.MistralJson(config)));
        var byName = encoder.Model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var plan = byName.Select(kv => new Flux2.IO.TensorPlan(kv.Key, kv.Value.dtype, kv.Value.shape)).ToList();
        Flux2.IO.SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), plan,
            name => byName[name].detach().cpu());
        long bytes = new FileInfo(Path.Combine(folder, "model.safetensors")).Length;
        o.WriteLine($"wrote {folder}/model.safetensors: {bytes / (double)(1L << 30):F1} GiB in " +
            $"{sw.Elapsed.TotalSeconds:F0} s ({bytes / sw.Elapsed.TotalSeconds / 1e9:F2} GB/s); peak process RAM " +
            $"{PeakRssGiB():F1} GiB");
    }

    /// <summary>Peak resident set of this process (VmHWM), the RAM a streamed load must keep bounded.</summary>
    static double PeakRssGiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:")) return long.Parse(line.Split((char[]?)null,
                    StringSplitOptions.RemoveEmptyEntries)[1]) / (1024.0 * 1024.0);
        }
        catch (IOException) { }
        return System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (double)(1L << 30);
    }

    static QuantType ParseQuant(string name)
    {
        try { return QuantType.Parse(name); }
        catch (ArgumentException e) { throw new UserError($"bench: --qtype: {e.Message}"); }
    }

    /// <summary>One forward of the unquantized model with the seed-0 weights, on the CPU as fp32; the model is freed
    /// before returning.</summary>
    static Tensor ReferenceOutput(TransformerConfig config, ForwardInputs inputs, Device device, ScalarType dtype,
        TextWriter o)
    {
        using var model = new Flux2Transformer(config, device, dtype);
        RandomInit.Apply(model, seed: 0);
        o.WriteLine($"reference: same weights in {dtype}, one forward for the error measurement");
        return inputs.OutputOnCpu(model);
    }

    /// <summary>The bench's inputs, seeded so a reference run and a quantized run see the same ones.</summary>
    sealed record ForwardInputs(Tensor Hidden, Tensor Context, Tensor T, Tensor? Guidance, Tensor ImgIds,
        Tensor TxtIds) : IDisposable
    {
        public static ForwardInputs Seeded(TransformerConfig config, int size, int textTokens, Device device,
            ScalarType dtype)
        {
            int side = size / 16;
            using var gen = new Generator(4321, device: CPU);
            return new(randn(new long[] { 1, side * side, config.InChannels }, generator: gen).to(dtype).to(device),
                randn(new long[] { 1, textTokens, config.JointAttentionDim }, generator: gen).to(dtype).to(device),
                full(new long[] { 1 }, 0.5f, dtype, device),
                config.GuidanceEmbeds ? full(new long[] { 1 }, 4.0f, dtype, device) : null,
                PositionIds.Image(side, side, device), PositionIds.Text(textTokens, device));
        }

        public Tensor Run(Flux2Transformer model) => model.Forward(Hidden, Context, T, Guidance, ImgIds, TxtIds);

        public Tensor OutputOnCpu(Flux2Transformer model)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            return Run(model).to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
        }

        public void Dispose()
        {
            foreach (var x in new[] { Hidden, Context, T, Guidance, ImgIds, TxtIds }) x?.Dispose();
        }
    }

    /// <summary>Waits for the device's queued work, so a stopwatch measures it (a no-op on the CPU).</summary>
    internal static void Sync(Device d) { if (d.type == DeviceType.CUDA) cuda.synchronize(); }
    internal static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToList(); return s.Count == 0
        ? double.NaN : s[s.Count / 2];
    }
}
