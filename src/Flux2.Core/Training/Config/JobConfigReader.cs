using Flux2.IO;
using Flux2.Pipeline;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Flux2.Training.Config;

/// <summary>A parsed job: the typed config plus what the reader noticed on the way.</summary>
public sealed record LoadedJob(JobFile Job, IReadOnlyList<JobConfigWarning> Warnings,
    IReadOnlyList<string> IgnoredKeys, string Source)
{
    /// <summary>Paths of the keys the file set (e.g. <c>config.process[0].sample.width</c>): what the user
    /// gave, as opposed to defaults.</summary>
    public IReadOnlySet<string> GivenKeys { get; init; } = new HashSet<string>();
    /// <summary>Lines for the resolved-config print: model-dependent settings and where each value came from
    /// (<see cref="JobModelDefaults"/>).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>Keys the file set that this kit accepts without acting on them, at values where they change
    /// nothing, with the reason (<see cref="Flux2.IO.InertKeyAttribute"/>; lokr_* keys of a LoRA job).</summary>
    public IReadOnlyList<(string Key, string Reason)> InertKeys { get; init; } = [];
}

/// <summary>
/// Reads an ai-toolkit job YAML as-is (docs/ai-toolkit-compat.md §1) into <see cref="JobFile"/>. Unknown keys warn
/// with the nearest known key; wrong types and values fail with <c>file:line:column</c>
/// (<see cref="JobConfigException"/>).
/// </summary>
public static partial class JobConfigReader
{
    static readonly string[] TrainerTypes = { "sd_trainer", "diffusion_trainer", "ui_trainer" };

    public static LoadedJob Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"job file not found: {path}", path);
        return Parse(SmallTextFile.Read(path, MaxJobBytes, "a job file"), path);
    }

    /// <summary>Job files are a few kilobytes; a larger file is not one.</summary>
    public const long MaxJobBytes = 4 << 20;

    /// <summary>Deeper nesting than any job has (a job nests about 6 levels); YamlDotNet builds its node tree
    /// recursively, so unbounded nesting would overflow the stack and kill the process.</summary>
    public const int MaxNesting = 64;

    public static LoadedJob Parse(string yaml, string fileName = "job.yaml")
    {
        CheckNesting(yaml, fileName);
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlException e)
        {
            var reason = e.InnerException?.Message ?? e.Message;
            throw new JobConfigException(new YamlPosition(fileName, e.Start.Line, e.Start.Column),
                $"not valid YAML: {reason}");
        }
        if (stream.Documents.Count == 0) throw new JobConfigException(new YamlPosition(fileName, 1, 1),
            "the job file is empty");
        var binder = new YamlBinder(fileName);
        var root = stream.Documents[0].RootNode;
        var job = binder.BindSection<JobFile>(root, "");
        Validate(job, binder, root);
        var meta = job.Meta.ToDictionary(kv => kv.Key, kv => kv.Value.Replace("[name]", job.Config.Name));
        job.Meta = meta;
        var inertKeys = binder.InertKeysSeen.ToList();
        if (job.Config.Process[0].Network.Type != NetworkType.Lokr)
            inertKeys.AddRange(binder.Given
                .Where(k => k.EndsWith(".network.lokr_full_rank", StringComparison.Ordinal)
                            || k.EndsWith(".network.lokr_factor", StringComparison.Ordinal))
                .Select(k => (k, "used only by network.type lokr")));
        return new LoadedJob(job, binder.Warnings, binder.IgnoredKeysSeen, fileName)
        {
            GivenKeys = binder.Given,
            InertKeys = inertKeys,
        };
    }

    /// <summary>Walks the parser's events (a loop, no recursion) and refuses nesting beyond
    /// <see cref="MaxNesting"/> before the node tree is built.</summary>
    static void CheckNesting(string yaml, string fileName)
    {
        var parser = new Parser(new StringReader(yaml));
        int depth = 0;
        try
        {
            while (parser.MoveNext())
            {
                if (parser.Current is MappingStart or SequenceStart && ++depth > MaxNesting)
                    throw new JobConfigException(
                        new YamlPosition(fileName, parser.Current.Start.Line, parser.Current.Start.Column),
                        $"nested more than {MaxNesting} levels deep: not a job file");
                if (parser.Current is MappingEnd or SequenceEnd) depth--;
            }
        }
        catch (YamlException)
        {
            return; // the full parse below reports syntax errors with their position
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this (no position) on some malformed plain scalars
            var at = parser.Current?.End;
            throw new JobConfigException(new YamlPosition(fileName, at?.Line ?? 1, at?.Column ?? 1),
                "not valid YAML (the parser failed after this point)");
        }
    }

    static void Validate(JobFile job, YamlBinder binder, YamlNode root)
    {
        YamlPosition At(string path) => binder.Positions.TryGetValue(path, out var p) ? p : binder.At(root);
        void Fail(string path, string message) => throw new JobConfigException(At(path), message);

        if (job.Job is not ("extension" or "train"))
            Fail("job", $"'job' must be 'extension' (the ai-toolkit LoRA job), got '{job.Job}'");
        if (job.Config.Name.Length == 0)
            Fail("config", "'config.name' is required (the run folder and file name stem)");
        if (!RunFolder.IsSafeName(job.Config.Name)) Fail("config.name", RunFolder.UnsafeNameMessage(job.Config.Name));
        if (job.Config.Process.Count == 0) Fail("config", "'config.process' must list one training process");
        if (job.Config.Process.Count > 1)
            binder.Warnings.Add(new JobConfigWarning(At("config.process[1]"),
                "only the first entry of 'config.process' is run"));

        const string p = "config.process[0]";
        var process = job.Process;
        if (!TrainerTypes.Contains(process.Type))
            Fail($"{p}.type", $"'{p}.type' must be one of {string.Join(", ", TrainerTypes)}, got '{process.Type}'");
        if (process.Datasets.Count == 0) Fail(p, $"'{p}.datasets' must list at least one dataset folder");
        for (int i = 0; i < process.Datasets.Count; i++)
        {
            var d = process.Datasets[i];
            var dp = $"{p}.datasets[{i}]";
            if (d.FolderPath.Length == 0) Fail(dp, $"'{dp}.folder_path' is required");
            if (d.Resolution.Count == 0 || d.Resolution.Any(r => r < 16 || r > Flux2Pipeline.MaxImageSide))
                Fail($"{dp}.resolution",
                    $"'{dp}.resolution' must list sizes of 16 to {Flux2Pipeline.MaxImageSide} pixels");
            var captionExt = "." + d.CaptionExt.TrimStart('.').ToLowerInvariant();
            if (captionExt == "." || Data.DatasetScanner.ImageExtensions.Contains(captionExt))
                Fail($"{dp}.caption_ext",
                    $"'{dp}.caption_ext' must be a text file extension such as txt, got '{d.CaptionExt}'");
            if (d.KeepTokens > 0 && !d.ShuffleTokens)
                binder.Warnings.Add(new JobConfigWarning(At($"{dp}.keep_tokens"),
                    $"'{dp}.keep_tokens' only matters with shuffle_tokens: true"));
        }
        var train = process.Train;
        var network = process.Network;
        if (network.Type == NetworkType.Lokr && process.Save.LoraFormat == Lora.LoraLayout.Diffusers)
            Fail($"{p}.save.lora_format", $"'{p}.save.lora_format: diffusers' holds LoRA only; a LoKr is saved in " +
                "the comfyui layout (ai-toolkit's): remove the key or set it to comfyui");
        if (network.Type == NetworkType.Lokr && network.Dropout > 0)
            Fail($"{p}.network.dropout", $"'{p}.network.dropout' is not implemented for LoKr (ai-toolkit ignores it " +
                "with a warning): set it to 0");
        if (!train.TrainUnet)
            Fail($"{p}.train.train_unet", $"'{p}.train.train_unet: false' leaves nothing to train: this kit trains " +
                "a LoRA on the transformer; remove the key or set it to true");
        if (train.TrainTextEncoder)
            Fail($"{p}.train.train_text_encoder", $"'{p}.train.train_text_encoder: true' is not supported: the text " +
                "encoder stays frozen; set it to false");
        if (process.Datasets.All(d => d.IsReg))
            Fail($"{p}.datasets", $"'{p}.datasets' are all is_reg: true; at least one dataset must be training " +
                "images (is_reg: false)");
        if (train.MaxDenoisingSteps <= train.MinDenoisingSteps)
            Fail($"{p}.train.max_denoising_steps",
                $"'{p}.train.max_denoising_steps' ({train.MaxDenoisingSteps}) must be above min_denoising_steps " +
                $"({train.MinDenoisingSteps})");
        if (train.OptimizerParams.Betas.Count != 2 || train.OptimizerParams.Betas.Any(b => b is < 0 or >= 1))
            Fail($"{p}.train.optimizer_params.betas",
                $"'{p}.train.optimizer_params.betas' must be two numbers in [0, 1), e.g. [0.9, 0.999]");
        if (train.NoiseScheduler is not ("flowmatch" or "ddpm"))
            binder.Warnings.Add(new JobConfigWarning(At($"{p}.train.noise_scheduler"),
                $"noise_scheduler '{train.NoiseScheduler}' is ignored: FLUX.2 always trains with flow matching"));
        if (train.DiffOutputPreservation && string.IsNullOrWhiteSpace(process.TriggerWord))
            Fail($"{p}.train.diff_output_preservation",
                $"'{p}.train.diff_output_preservation' needs a trigger_word: the preservation prompt is the caption " +
                $"with the trigger replaced by diff_output_preservation_class");
        if (train.DiffOutputPreservation && train.BlankPromptPreservation)
            Fail($"{p}.train.blank_prompt_preservation",
                $"'{p}.train.blank_prompt_preservation' and diff_output_preservation cannot both be on (as in " +
                "ai-toolkit): set one of them to false");
        if (!ModelConfig.KnownArchs.Contains(process.Model.Arch))
            binder.Warnings.Add(new JobConfigWarning(At($"{p}.model.arch"),
                $"model.arch '{process.Model.Arch}': this kit trains FLUX.2 (arch " +
                $"{string.Join(", ", ModelConfig.KnownArchs)}) and treats the model as such"));
        foreach (var (s, i) in process.Sample.Samples.Select((s, i) => (s, i)))
            if (s.Prompt.Length == 0) Fail($"{p}.sample.samples[{i}]", $"'{p}.sample.samples[{i}]' needs a prompt");
    }
}
