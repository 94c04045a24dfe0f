using System.Globalization;
using Flux2.Training.Config;

namespace Flux2.Training;

/// <summary>One concrete change of the job file: the key (YAML path under config.process[0]), its current and
/// suggested value, and what it buys.</summary>
public sealed record MemoryAdvice(string Key, string From, string To, string Why)
{
    public override string ToString() => $"{Key}: {From} -> {To}   ({Why})";
}

/// <summary>
/// The docs/lora-guide.md §5.3 survival plan for "CUDA out of memory", made concrete for one job: lower resolution,
/// gradient checkpointing and accumulation instead of batch, aggressive quantization, low_vram / layer offloading, a
/// smaller rank, no DOP, and finally a bigger GPU. Only changes that apply (a key not already at the suggested value)
/// are listed, in the guide's order, so the first lines are the ones to try first.
/// </summary>
public static class OutOfMemoryAdvice
{
    /// <summary>libtorch's CUDA allocator message ("CUDA out of memory. Tried to allocate ...").</summary>
    public static bool IsOutOfMemory(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x.Message.Contains("CUDA out of memory", StringComparison.OrdinalIgnoreCase)
                || x.Message.Contains("CUDA error: out of memory", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    public static IReadOnlyList<MemoryAdvice> For(JobFile job)
    {
        var p = job.Process;
        var t = p.Train;
        var m = p.Model;
        var advice = new List<MemoryAdvice>();
        for (int i = 0; i < p.Datasets.Count; i++)
        {
            var res = p.Datasets[i].Resolution;
            var smaller = SmallerResolutions(res);
            if (smaller is not null)
                advice.Add(new($"datasets[{i}].resolution", List(res), List(smaller),
                    "activation memory grows with the pixel count; guide: 1024 -> 896 or 768"));
        }
        if (!t.GradientCheckpointing)
            advice.Add(new("train.gradient_checkpointing", "false", "true",
                "recompute block activations in the backward pass instead of keeping them"));
        else if (!t.GradientCheckpointingCpuOffload)
            advice.Add(new("train.gradient_checkpointing_cpu_offload", "false", "true",
                "each block's saved inputs wait in CPU memory (~3 GiB at FLUX.2-dev 1024²)"));
        if (t.BatchSize > 1)
            advice.Add(new("train.batch_size", Num(t.BatchSize), "1",
                $"one image per forward; with gradient_accumulation {t.BatchSize * t.GradientAccumulationSteps} the " +
                $"effective batch stays the same"));
        if (!m.Quantize)
            advice.Add(new("model.quantize", "false", "true (qtype: qfloat8)",
                "8-bit transformer weights: about half the bf16 weight memory"));
        if (!(m.QuantizeTe ?? m.Quantize))
            advice.Add(new("model.quantize_te", "false", "true (qtype_te: qfloat8)",
                "8-bit text-encoder weights: about half its bf16 memory"));
        if (!m.LowVram)
            advice.Add(new("model.low_vram", "false", "true",
                "keeps the parts not in use (text encoder, VAE) off the GPU"));
        if (!m.LayerOffloading)
            advice.Add(new("model.layer_offloading", "false", "true (layer_offloading_transformer_percent: 0.5)",
                "half the transformer blocks live in CPU memory and are streamed in"));
        else if (m.LayerOffloadingTransformerPercent < 1)
            advice.Add(new("model.layer_offloading_transformer_percent", Num(m.LayerOffloadingTransformerPercent),
                Num(Math.Min(1, m.LayerOffloadingTransformerPercent + 0.25)), "offload more blocks to CPU memory"));
        if (p.Network.Linear > 16)
            advice.Add(new("network.linear", Num(p.Network.Linear),
                           "16" + (p.Network.LinearAlpha is { } a
                               ? $" (linear_alpha: {Num(a * 16 / p.Network.Linear)} keeps the scale)" : ""),
                           "smaller LoRA weights, gradients and optimizer state"));
        if (t.Optimizer == OptimizerType.Adamw)
            advice.Add(new("train.optimizer", "adamw", "adamw8bit", "optimizer moments in 8 bits"));
        if (t.DiffOutputPreservation)
            advice.Add(new("train.diff_output_preservation", "true", "false",
                "DOP runs two extra forwards per step; guide: avoid it on very tight VRAM"));
        if (t.BlankPromptPreservation)
            advice.Add(new("train.blank_prompt_preservation", "true", "false",
                "blank prompt preservation runs two extra forwards per step"));
        return advice;
    }

    /// <summary>The message the trainer stops with: what happened and the plan, one change per line.</summary>
    public static string Message(JobFile job, string error)
    {
        var lines = new List<string>
        {
            $"out of GPU memory on {job.Process.Device}: {FirstLine(error)}",
            "Survival plan (docs/lora-guide.md §5.3), changes for this job file, most effective first "
            + "(under config.process[0]):",
        };
        lines.AddRange(For(job).Select((a, i) => $"  {i + 1}. {a}"));
        lines.Add("  Or move the same job to a bigger GPU (H100 80 GB / H200 141 GB).");
        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>Several resolutions: drop the largest. One: about 3/4 of it, on a 64-pixel step, not below
    /// 256.</summary>
    static List<int>? SmallerResolutions(List<int> res)
    {
        if (res.Count == 0) return null;
        if (res.Count > 1) { var max = res.Max(); return res.Where(r => r != max).ToList(); }
        int smaller = Math.Max(256, res[0] * 3 / 4 / 64 * 64);
        return smaller < res[0] ? new List<int> { smaller } : null;
    }

    static string List(IEnumerable<int> values) => "[" + string.Join(", ", values) + "]";
    static string Num(double v) => v.ToString(CultureInfo.InvariantCulture);
    static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
