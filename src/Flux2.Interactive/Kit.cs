using Flux2.Diagnostics;
using Flux2.Models;
using Flux2.Models.TextEncoder;
using Flux2.Native;
using Flux2.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace Flux2.Interactive;

/// <summary>
/// What a notebook's first cells need: the repository root (so notebooks use paths relative to the clone, whatever
/// the kernel's working folder), the model path (<c>flux2-micro</c> resolves to the weights next to Flux2.Core.dll,
/// not next to the kernel's own executable), model loading, text-to-image and the environment report.
/// </summary>
public static class Kit
{
    /// <summary>The default model: the embedded FLUX.2-micro. A notebook switches to FLUX.2-dev by setting its model
    /// path to a diffusers folder or a Hugging Face repo id in the HF cache (e.g.
    /// "black-forest-labs/FLUX.2-dev").</summary>
    public const string Micro = MicroModel.Name;

    /// <summary>The clone's root (the folder with Flux2Notebooks.sln): searched upward from the working folder, then
    /// from this assembly's folder (src/Flux2.Interactive/bin/...).</summary>
    public static string RepoRoot => repoRoot.Value;
    static readonly Lazy<string> repoRoot = new(() =>
        FindUp(System.Environment.CurrentDirectory) ?? FindUp(Path.GetDirectoryName(typeof(Kit).Assembly.Location)!)
        ?? throw new DirectoryNotFoundException("Flux2Notebooks.sln not found above the working folder or the " +
            "Flux2.Interactive build output"));

    /// <summary>A path relative to the repository root, e.g.
    /// <c>Kit.PathOf("datasets-sample/midnight_tarot")</c>.</summary>
    public static string PathOf(string relative) => Path.GetFullPath(Path.Combine(RepoRoot, relative));

    /// <summary>What <see cref="Flux2Models.Load"/> should get: the micro model's folder for "flux2-micro", a
    /// repository-relative folder made absolute, anything else (absolute folder, HF repo id) unchanged.</summary>
    public static string ModelPath(string spec)
    {
        if (spec == MicroModel.Name) return MicroModel.DefaultFolder;
        if (!Path.IsPathRooted(spec) && !Directory.Exists(spec) && Directory.Exists(Path.Combine(RepoRoot, spec)))
            return PathOf(spec);
        return spec;
    }

    /// <summary>Loads TorchSharp (with the libstdc++ fix, see TorchRuntime) and the model.</summary>
    public static Flux2Models LoadModels(string spec = Micro, string device = "auto", Action<string>? log = null)
    {
        TorchRuntime.EnsureLoaded();
        return Flux2Models.Load(ModelPath(spec), TorchRuntime.Device(device), log: log);
    }

    /// <summary>The model's prompt tokenizer alone (no torch needed): for caption token counts.</summary>
    public static PromptTokenizer Tokenizer(string spec = Micro)
        => PromptTokenizer.FromFolder(Path.Combine(ModelPath(spec), "tokenizer"));

    /// <summary>Text to images [B, 3, H, W] in 0..1, one per prompt, seeds <paramref name="seed"/>, +1, ... shared
    /// noise per index so two calls with the same seed differ only by prompt (or LoRA).</summary>
    public static Tensor Generate(Flux2Models models, IReadOnlyList<string> prompts, long seed = 42, int steps = 20,
        float guidance = 4f, int width = 128, int height = 128)
    {
        using var scope = NewDisposeScope();
        var device = models.Transformer.Device;
        var noise = cat(prompts.Select((_, i) => models.Pipeline.InitialNoise(1, height, width, seed + i, device))
            .ToArray(), 0);
        var embeds = models.EncodePrompts(prompts);
        var negative = models.NegativeEmbedsForGuidance();
        return models.Pipeline.Generate(embeds, noise, steps, guidance, negativeEmbeds: negative).cpu()
            .MoveToOuterDisposeScope();
    }

    /// <summary>The environment report of notebook 01: machine, libtorch, device, model, memory tier.</summary>
    public static IReadOnlyList<(string what, string value)> Environment(string modelSpec = Micro)
    {
        TorchRuntime.EnsureLoaded();
        var rows = new List<(string, string)>
        {
            ("OS", System.Runtime.InteropServices.RuntimeInformation.OSDescription),
            (".NET", System.Environment.Version.ToString()),
            ("CPU cores", System.Environment.ProcessorCount.ToString()),
            ("RAM (GiB)", $"{GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30):F1}"),
            ("TorchSharp", typeof(torch).Assembly.GetName().Version?.ToString() ?? "?"),
            ("libtorch", TorchRuntime.LibTorchSource),
            ("CUDA available", torch.cuda.is_available() ? $"yes ({torch.cuda.device_count()} device(s))" : "no"),
        };
        double? vram = null;
        using (var gpu = GpuMemory.TryStart())
            if (gpu is not null)
            {
                vram = gpu.TotalGiB; rows.Add(("GPU memory (GiB)",
                $"{gpu.TotalGiB:F1} total, {gpu.UsedGiB:F1} used"));
            }
        var path = ModelPath(modelSpec);
        rows.Add(("model", modelSpec));
        rows.Add(("model path",
            Directory.Exists(path) ? path : $"{path} (not a folder: looked up in the HF cache when loaded)"));
        rows.Add(("memory tier", MemoryTier(vram)));
        return rows;
    }

    /// <summary>Which FLUX.2 setup this machine can train: the tier of <see cref="Recommendations.Tiers"/>.</summary>
    public static string MemoryTier(double? vramGiB) => vramGiB is double gib
        ? $"{Recommendations.ForVram(gib).Tier}: {Recommendations.ForVram(gib).Notes}"
        : "CPU only: FLUX.2-micro (this kit's embedded model); FLUX.2-dev needs a CUDA GPU";

    static string? FindUp(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Flux2Notebooks.sln"))) return dir.FullName;
        return null;
    }
}
