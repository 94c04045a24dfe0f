using System.Diagnostics;
using Flux2.Diagnostics;
using Flux2.Distributed;
using Flux2.Models.Transformer;
using Flux2.Native;
using Flux2.Nn;
using Flux2.Nn.Offload;
using Flux2.Nn.Quantization;
using Flux2.Pipeline;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.Network;
using Flux2.Training.Objective;
using Flux2.Training.Optim;
using static TorchSharp.torch;

namespace Flux2.Cli.Commands;

/// <summary>
/// <c>./flux2 bench train</c>: LoRA training steps of a full-size transformer with random weights built on the
/// device (no download) — flow-match loss on random latents and text embeddings, backward (checkpointed per block by
/// default), AdamW on the LoRA only, exactly the pieces <c>./flux2 train</c> uses. Prints step times, peak GPU memory,
/// achieved TFLOP/s and MFU (<see cref="TransformerFlops"/>); <c>--memory-steps</c> checks that memory stays flat.
/// <c>--gpus N</c>: N ranks started like <c>./flux2 train --gpus N</c> (<see cref="TrainLauncher"/>),
/// each a batch of 1 with its own noise and timestep, the LoRA gradients averaged before the optimizer step as
/// <see cref="Trainer"/> does; the <c>throughput:</c> line compares with the single-GPU run.
/// </summary>
public static class BenchTrainCommand
{
    public const string Help = """
        ./flux2 bench train [--tier C|B|A] [--config dev|klein-4b|klein-9b|tiny] [--size 1024] [--rank 32]
                            [--qtype qfloat8|qint8|uint2..uint8] [--targets diffusers|ai-toolkit]
                            [--offload-percent 0.75]
                            [--text-tokens 512] [--steps 10] [--warmup 2] [--no-checkpointing] [--no-checkpoint-offload]
                            [--optimizer adamw|adamw8bit]
                            [--memory-steps 200] [--device auto|cpu|cuda:N] [--peak-tflops 989.4] [--gpus N]
          LoRA training steps (batch 1, flow-match loss, backward, optimizer step) at full size with random weights:
          per-step time, median after the warm-up steps, peak GPU memory, achieved TFLOP/s and MFU (peak dense bf16 of
          the card from its NVML name, or --peak-tflops). Tier C: bf16 weights; B: quantized weights (--qtype: qfloat8,
          the default, or qint8: 8 bits per channel; uint2-uint8: N bits, a scale and zero point per 64 inputs)
          quantized layer by layer while building; A: B + layer offloading of --offload-percent of the
          blocks (pinned CPU memory, streamed in with prefetch; built there one block at a time through a GPU slot, so
          the peak, measured from the start, includes building). LoRA on the diffusers default
          targets (attention projections, as diffusers' DreamBooth LoRA script) or --targets ai-toolkit (every Linear
          of the blocks), gradient checkpointing per block unless --no-checkpointing, its saved block inputs kept in
          pinned CPU memory on CUDA unless --no-checkpoint-offload (train.gradient_checkpointing_cpu_offload).
          --memory-steps N runs N steps and prints memory at step 10 and step N (a leak shows as growth).
          --gpus N: data parallel on N GPUs of this host, one process per GPU (cuda:0..N-1, as ./flux2 train --gpus N),
          batch 1 per GPU with its own noise and timestep, LoRA gradients averaged (NCCL) before each optimizer step;
          rank 0 prints. Every run ends with "throughput: X images/s (N GPUs x batch 1)" to compare 1 GPU with N.
        """;

    /// <summary>Memory tiers (docs/lora-guide.md §2): C = bf16 weights (80 GB cards), B = quantized weights (fp8:
    /// 48 GB), A = B + layer offloading (fp8: 24 GB). The weight format of B and A is --qtype.</summary>
    public enum Tier { C, B, A }

    sealed record Options(Tier Tier, QuantType Quant, double OffloadPercent, LoraTargetPreset Targets,
                          string ConfigName, TransformerConfig Config, int Size, int Rank, int TextTokens, int Steps,
                          int Warmup, bool Checkpointing, bool CheckpointOffload, OptimizerType Optimizer,
                          bool MemoryMode, Device Device, double? PeakTflops, int Gpus);

    public static int Run(CliArgs args, TextWriter o)
    {
        ProcessGroup? group;
        try { group = ProcessGroup.FromEnvironment(); }
        catch (ArgumentException e) { throw new UserError("bench train: " + e.Message); }
        var opt = Parse(args, group);
        if (opt.Gpus > 1)
            return TrainLauncher.Launch(new LaunchPlan(opt.Gpus, MasterPort: LaunchPlan.FreePort()),
                ["bench", .. args.Without("gpus")], o, "flux2 bench train", afterFailure: null);
        if (group is { IsMain: false }) o = TextWriter.Null; // rank 0 alone reports; errors still reach stderr
        using var parallel = group is null ? null : DataParallel.Join(group, opt.Device, o.WriteLine);
        using var mem = opt.Device.type == TorchSharp.DeviceType.CUDA ?
            GpuMemory.TryStart((uint)Math.Max(0, opt.Device.index)) : null;
        int step = 0;
        try
        {
            int code = Bench(opt, parallel, mem, o, s => step = s);
            parallel?.Complete();
            return code;
        }
        catch (Exception e) when (OutOfMemoryAdvice.IsOutOfMemory(e))
        {
            throw new UserError($"bench train: out of GPU memory " +
                $"{(step == 0 ? "while building the model and LoRA" : $"in step {step}")} " +
                $"(tier {opt.Tier}, {opt.ConfigName}, {opt.Size}x{opt.Size}, rank {opt.Rank}, " +
                $"checkpointing {(opt.Checkpointing ? "on" : "off")}).\n" +
                AllocatorReport(e) +
                (mem is null ? ""
                    : $"\nNVML: {mem.UsedGiB:F1} GiB used of {mem.TotalGiB:F1} GiB now, peak {mem.PeakGiB:F1} GiB") +
                (opt.Checkpointing
                    ? "\nTry a lower --size or --rank, a lower tier (B: quantized weights, A: + offloading) or a " +
                        "smaller --qtype (uint4)." : "\nTry without --no-checkpointing."));
        }
    }

    static Options Parse(CliArgs args, ProcessGroup? group)
    {
        var tierName = args.Get("tier", "C");
        var tier = tierName.ToUpperInvariant() switch
        {
            "C" => Tier.C,
            "B" => Tier.B,
            "A" => Tier.A,
            _ =>
                throw new UserError($"bench train: --tier must be C (bf16), B (--qtype weights) or A (--qtype " +
                    $"weights + offloading), got '{tierName}'"),
        };
        QuantType quant;
        try { quant = QuantType.Parse(args.Get("qtype", "qfloat8")); }
        catch (ArgumentException e) { throw new UserError($"bench train: --qtype: {e.Message}"); }
        var targets = args.Get("targets", "diffusers") switch
        {
            "diffusers" => LoraTargetPreset.Diffusers,
            "ai-toolkit" => LoraTargetPreset.AiToolkit,
            var x => throw new UserError($"bench train: --targets must be diffusers or ai-toolkit, got '{x}'"),
        };
        var configName = args.Get("config", "dev");
        var config = TransformerConfig.ByName(configName);
        int size = args.Int("size", 1024, 16, Flux2Pipeline.MaxImageSide), rank = args.Int("rank", 32),
            textTokens = args.Int("text-tokens", 512, 1, 32_768);
        int memorySteps = args.Int("memory-steps", 0, 0, 100_000);
        int steps = memorySteps > 0 ? memorySteps : args.Int("steps", 10, 1, 100_000),
            warmup = args.Int("warmup", 2, 0, 100_000);
        bool checkpointing = !args.Flag("no-checkpointing");
        bool checkpointOffload = !args.Flag("no-checkpoint-offload");
        var optimizer = args.Get("optimizer", "adamw") switch
        {
            "adamw" => OptimizerType.Adamw,
            "adamw8bit" => OptimizerType.Adamw8bit,
            var x => throw new UserError($"bench train: --optimizer must be adamw or adamw8bit, got '{x}'"),
        };
        double peak = args.Double("peak-tflops", 0);
        var deviceName = args.Get("device", "auto");
        int gpus = args.Int("gpus", 1);
        args.EnsureAllUsed();

        if (size < 16 || size % 16 != 0)
            throw new UserError($"bench train: --size must be a positive multiple of 16 (one " +
                $"token per 16x16 pixels), got {size}");
        if (rank < 1) throw new UserError($"bench train: --rank must be at least 1, got {rank}");
        if (textTokens < 1) throw new UserError($"bench train: --text-tokens must be at least 1, got {textTokens}");
        if (warmup < 0) throw new UserError($"bench train: --warmup must not be negative, got {warmup}");
        if (steps <= warmup)
            throw new UserError($"bench train: --steps ({steps}) must exceed --warmup " +
                $"({warmup}) so that some steps are timed");
        if (memorySteps > 0 && memorySteps < 10)
            throw new UserError($"bench train: --memory-steps reports step 10 and the last step, so it needs at " +
                $"least 10, got {memorySteps}");
        if (peak < 0) throw new UserError($"bench train: --peak-tflops must be positive, got {peak}");
        double offloadPercent = args.Double("offload-percent", 0.75);
        if (offloadPercent <= 0 || offloadPercent > 1)
            throw new UserError($"bench train: --offload-percent must be in (0, 1], got {offloadPercent}");
        if (gpus < 1) throw new UserError($"bench train: --gpus must be at least 1, got {gpus}");
        bool ranked = gpus > 1 || group is not null;
        if (ranked && deviceName is not ("auto" or "cuda" or "cpu"))
            throw new UserError($"bench train: with --gpus each rank drives cuda:LOCAL_RANK; --device must be auto, " +
                $"cuda or cpu (CPU ranks, for testing), got '{deviceName}'");
        var device = TorchRuntime.Device(deviceName);
        if (group is not null && device.type == TorchSharp.DeviceType.CUDA) device =
            new Device(TorchSharp.DeviceType.CUDA, group.LocalRank);
        return new Options(tier, quant, offloadPercent, targets, configName, config, size, rank, textTokens, steps,
                           warmup, checkpointing, checkpointOffload, optimizer, memorySteps > 0, device,
                           peak > 0 ? peak : null, gpus);
    }

    /// <summary>
    /// The transformer for a memory tier, random weights, built directly on the device: C bf16; B and A with
    /// quantized Linear weights (--qtype), each layer drawn in bf16 and quantized before the next (the bf16 model
    /// never exists). A: the offloaded blocks are built in CPU memory and initialized one at a time in a GPU slot, to
    /// the same weights as B (<see cref="TransformerOffloading.Build"/>), so they never sit on the GPU together.
    /// </summary>
    static BuiltModel BuildModel(Options opt, Device device)
    {
        var quant = opt.Tier == Tier.C ? null : opt.Quant;
        if (opt.Tier == Tier.A)
        {
            var (offloadedModel, offloader) = TransformerOffloading.Build(opt.Config, device, ScalarType.BFloat16,
                quant,
                opt.OffloadPercent, (m, o) => RandomInit.Apply(m, seed: 0, o));
            return new BuiltModel(offloadedModel, offloader);
        }
        var model = new Flux2Transformer(opt.Config, device, ScalarType.BFloat16, quant);
        RandomInit.Apply(model, seed: 0);
        return new BuiltModel(model, null);
    }

    sealed record BuiltModel(Flux2Transformer Model, BlockOffloader? Offloader) : IDisposable
    {
        /// <summary>The offloader first: it points the offloaded blocks back at placeholders and frees their pinned
        /// memory.</summary>
        public void Dispose() { Offloader?.Dispose(); Model.Dispose(); }
    }

    /// <summary>The timed steps; with <paramref name="parallel"/> this process is one rank of a data-parallel
    /// job.</summary>
    static int Bench(Options opt, DataParallel? parallel, GpuMemory? mem, TextWriter o, Action<int> atStep)
    {
        int ranks = parallel?.WorldSize ?? 1, rankIndex = parallel?.Rank ?? 0;
        var (c, device) = (opt.Config, opt.Device);
        if (mem != null)
        {
            using (var probe = ones(1, device: device)) probe.add_(1);   // brings up the CUDA context
            BenchCommand.Sync(device);
            o.WriteLine($"GPU memory with the CUDA context only: {mem.UsedGiB:F2} GiB " +
                $"({TorchRuntime.AllocatorConfEnv}={TorchRuntime.AllocatorConf})");
        }
        if (opt.Tier == Tier.A && device.type != TorchSharp.DeviceType.CUDA)
            throw new UserError($"bench train: tier A: layer offloading needs CUDA (the model is on {device}); use " +
                $"--tier B or C on the CPU");
        var sw = Stopwatch.StartNew();
        using var built = BuildModel(opt, device);
        var model = built.Model;
        // From the config: a quantized model's tensors hold packed codes and scales, not one element per parameter.
        long parameterCount = c.ParameterCount();
        if (built.Offloader is { } offloader) o.WriteLine(offloader.Report);
        if (mem != null)
        {
            BenchCommand.Sync(device); o.WriteLine($"GPU memory with the model: {mem.UsedGiB:F2} GiB " +
            $"(peak while building {mem.PeakGiB:F2} GiB)");
        }
        model.Runner.Checkpointing = opt.Checkpointing;
        using var inputOffload = opt.Checkpointing && opt.CheckpointOffload && device.type == TorchSharp.DeviceType.CUDA
            ? new CheckpointInputOffloader(device) : null;
        model.Runner.InputOffloader = inputOffload;
        using var lora = LoraNetwork.Attach(model, new NetworkConfig
        {
            Linear = opt.Rank,
            NetworkKwargs = new NetworkKwargs { TargetPreset = opt.Targets }
        }, seed: 0);
        var parameters = lora.Parameters.ToList();
        parallel?.CopyFromMain(parameters); // same start on every rank, as Trainer does
        using var optimizer = OptimizerFactory.Create(opt.Optimizer, parameters, 1e-4, new OptimizerParams());
        BenchCommand.Sync(device);
        o.WriteLine($"tier {opt.Tier}: {opt.ConfigName} transformer, {parameterCount:N0} parameters " +
            $"({(opt.Tier == Tier.C ? "bf16" : $"{opt.Quant.Name} Linear weights")}), built on {device} in " +
            $"{sw.Elapsed.TotalSeconds:F1} s");
        string inputOffloadNote = inputOffload is null ? "" : ", saved block inputs in pinned CPU memory";
        o.WriteLine($"LoRA rank {opt.Rank} on {lora.Modules.Count} Linears: {lora.ParameterCount:N0} fp32 " +
            $"parameters; optimizer {optimizer.Name}; " +
            $"gradient checkpointing " +
            $"{(opt.Checkpointing ? "on" : "off")}{inputOffloadNote}");
        if (mem != null)
            o.WriteLine($"GPU memory after build: {mem.UsedGiB:F1} GiB of {mem.TotalGiB:F1} GiB " +
                $"({GpuPeakFlops.DeviceName((uint)Math.Max(0, device.index)) ?? "unknown GPU"})");

        int side = opt.Size / 16, imageTokens = side * side;
        var flops = TransformerFlops.For(c, imageTokens, opt.TextTokens, opt.Rank);
        string recomputeNote = opt.Checkpointing ? $", + recompute {Si(flops.Recompute)}FLOP executed" : "";
        o.WriteLine($"{opt.Size}x{opt.Size}: {imageTokens} image + {opt.TextTokens} text tokens, batch " +
            $"1{(ranks > 1 ? $" per rank x {ranks} ranks" : "")}; per step {Si(flops.TrainingStep)}FLOP " +
            $"(forward {Si(flops.Forward)}FLOP, backward {Si(flops.Backward)}FLOP{recomputeNote})");

        // Each rank draws its own latents, noise and timesteps: a different sample of the global batch, as in training.
        using var gen = new Generator((ulong)(1234 + rankIndex), device: CPU);
        using var latents = randn(new long[] { 1, c.InChannels, side, side }, generator: gen).to(device);
        using var context = randn(new long[] { 1, opt.TextTokens, c.JointAttentionDim }, generator: gen)
            .to(ScalarType.BFloat16).to(device);
        var random = new Random(1234 + rankIndex);
        var times = new List<double>();
        double memoryAt10 = double.NaN;
        for (int step = 1; step <= opt.Steps; step++)
        {
            atStep(step);
            sw.Restart();
            double loss;
            using (var scope = NewDisposeScope())
            {
                optimizer.ZeroGrad();
                var noise = randn(latents.shape, generator: gen).to(device);
                var t = new[] { new Timestep(random.NextDouble(), 1.0) };
                var l = FlowMatchLoss.Compute(model, latents, context, noise, t, guidance: 1.0);
                model.Runner.Backward(l);
                loss = l.item<float>();
                if (parallel is not null)
                {
                    // Trainer's order: average the LoRA gradients, then the loss (the one shown is the global batch's).
                    parallel.AverageGradients(parameters);
                    loss = parallel.Average([loss])[0];
                }
                optimizer.Step();
            }
            BenchCommand.Sync(device);
            double ms = sw.Elapsed.TotalMilliseconds;
            if (!double.IsFinite(loss))
                throw new InvalidOperationException($"bench train: loss is {loss} at step {step}");
            if (step > opt.Warmup) times.Add(ms);
            if (!opt.MemoryMode || step % 10 == 0 || step == opt.Steps || step <= opt.Warmup)
                o.WriteLine($"  step {step}{(step <= opt.Warmup ? " (warm-up)" : "")}: {ms:F0} ms, loss {loss:F4}, " +
                            $"{Si(flops.TrainingStep / (ms / 1e3))}FLOP/s" +
                                (mem != null ? $", GPU {mem.UsedGiB:F1} GiB" : ""));
            if (opt.MemoryMode && (step == 10 || step == opt.Steps))
            {
                double now = MemoryGiB(mem);
                if (step == 10) memoryAt10 = now;
                o.WriteLine($"  memory at step {step}: {now:F2} GiB " +
                    $"{(mem != null ? "GPU used (NVML)" : "process resident")}" +
                            (step == opt.Steps && step != 10
                                ? $"; change since step 10: {now - memoryAt10:+0.00;-0.00;0.00} GiB" : ""));
            }
        }

        double median = BenchCommand.Median(times), achieved = flops.TrainingStep / (median / 1e3) / 1e12;
        double? peak = opt.PeakTflops
            ?? (mem != null ? GpuPeakFlops.DenseBf16Tflops(GpuPeakFlops.DeviceName((uint)Math.Max(0, device.index)))
                : null);
        o.WriteLine($"train step tier {opt.Tier}, {opt.Size}x{opt.Size}, rank {opt.Rank}, checkpointing " +
            $"{(opt.Checkpointing ? "on" : "off")}: " +
            $"median {median / 1e3:F3} s/step over {times.Count} steps");
        if (mem != null)
            o.WriteLine($"peak GPU memory {mem.PeakGiB:F1} GiB (NVML used: CUDA context + allocator cache + tensors; " +
                $"the driver's own reserve of {mem.DriverReservedGiB:F1} GiB left out)");
        o.WriteLine($"achieved {Si(achieved * 1e12)}FLOP/s{(ranks > 1 ? " per rank" : "")} (model FLOPs, recompute " +
            $"not counted)" +
                    (opt.Checkpointing
                        ? $"; {Si(flops.TrainingStepExecuted(true) / (median / 1e3))}FLOP/s executed with the " +
                            $"recompute" : ""));
        o.WriteLine(peak is { } p
            ? $"MFU {achieved / p:P1} of {p:F1} TFLOP/s dense bf16" + (opt.Checkpointing
                ? $" (HFU {flops.TrainingStepExecuted(true) / (median / 1e3) / 1e12 / p:P1})" : "")
            : "MFU: unknown peak for this device; pass --peak-tflops");
        string unit = device.type == TorchSharp.DeviceType.CUDA ? (ranks == 1 ? "GPU" : "GPUs")
            : (ranks == 1 ? "CPU process" : "CPU processes");
        if (inputOffload is not null)
            o.WriteLine($"checkpointed block inputs offloaded: {inputOffload.PinnedBytes / (double)(1L << 30):F2} " +
                $"GiB of pinned host memory");
        o.WriteLine($"throughput: {ranks / (median / 1e3):F3} images/s ({ranks} {unit} x batch 1)");
        return 0;
    }

    /// <summary>libtorch's out-of-memory text up to its C++ stack: it carries the caching allocator's numbers
    /// ("... X GiB is allocated by PyTorch, and Y GiB is reserved by PyTorch but unallocated").</summary>
    static string AllocatorReport(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
            {
                var text = x.Message;
                int cut = text.IndexOf("Exception raised from", StringComparison.Ordinal);
                return (cut > 0 ? text[..cut] : text).Trim();
            }
        return e.Message;
    }

    static double MemoryGiB(GpuMemory? mem)
    {
        if (mem != null) return mem.UsedGiB;
        GC.Collect(); GC.WaitForPendingFinalizers();
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64 / (double)(1L << 30);
    }

    /// <summary>12.3 T, 4.56 G, 789 M: FLOP figures readable from the tiny CPU model to FLUX.2-dev.</summary>
    static string Si(double v) => v switch
    {
        >= 1e12 => $"{v / 1e12:F1} T",
        >= 1e9 => $"{v / 1e9:F2} G",
        >= 1e6 => $"{v / 1e6:F0} M",
        _ => $"{v:F0} ",
    };

}
