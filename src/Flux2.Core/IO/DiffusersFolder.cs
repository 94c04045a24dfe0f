using System.Text.Json;

namespace Flux2.IO;

/// <summary>
/// A diffusers pipeline folder (docs/flux2-model.md §4.4): <c>model_index.json</c> maps each component to
/// <c>[library, class]</c>, and each component lives in the subfolder of that name. Folders without
/// <c>model_index.json</c> (e.g. the parity fixtures, or a partial download) are opened by discovering the known
/// FLUX.2 component subfolders.
/// </summary>
public sealed class DiffusersFolder
{
    /// <summary>Component folders of a FLUX.2 pipeline (docs/flux2-model.md §4.4).</summary>
    public static readonly string[] KnownComponents = ["transformer", "vae", "text_encoder", "tokenizer", "scheduler"];

    public string Root { get; }
    /// <summary>The pipeline class from model_index.json (e.g. Flux2Pipeline), or null when discovered.</summary>
    public string? PipelineClass { get; }
    public IReadOnlyDictionary<string, DiffusersComponent> Components { get; }
    /// <summary>model_index.json <c>is_distilled</c> (a <c>Flux2KleinPipeline</c> option): the [klein] transformer is
    /// step-distilled and samples in few steps without classifier-free guidance. False when absent.</summary>
    public bool IsDistilled { get; }

    DiffusersFolder(string root, string? pipelineClass, Dictionary<string, DiffusersComponent> components,
        bool isDistilled = false)
    {
        Root = root; PipelineClass = pipelineClass; Components = components; IsDistilled = isDistilled;
    }

    public DiffusersComponent this[string name] =>
        Components.TryGetValue(name, out var c) ? c
        : throw new UserError($"{Root}: no '{name}' component (has: {string.Join(", ", Components.Keys)})");

    public static DiffusersFolder Open(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: pipeline folder not found");
        var index = Path.Combine(root, "model_index.json");
        return File.Exists(index) ? FromIndex(root, index) : Discover(root);
    }

    static DiffusersFolder FromIndex(string root, string indexPath)
    {
        using var doc = ParseJson(indexPath);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{indexPath}: not a JSON object");
        string? pipeline = null;
        var distilled = false;
        var components = new Dictionary<string, DiffusersComponent>();
        var missing = new List<string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "_class_name" && p.Value.ValueKind == JsonValueKind.String) pipeline = p.Value.GetString();
            if (p.Name == "is_distilled")
                distilled = p.Value.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False or JsonValueKind.Null => false,
                    _ => throw new UserError($"{indexPath}: 'is_distilled' must be true or false, got " +
                                             $"{p.Value.GetRawText()}"),
                };
            // Components are [library, class] pairs; "_"-prefixed keys are bookkeeping and other values are pipeline
            // options. [null, null] marks an optional component that this pipeline does not have.
            if (p.Name.StartsWith('_') || p.Value.ValueKind != JsonValueKind.Array || p.Value.GetArrayLength() != 2)
                continue;
            var library = p.Value[0].ValueKind == JsonValueKind.String ? p.Value[0].GetString() : null;
            var cls = p.Value[1].ValueKind == JsonValueKind.String ? p.Value[1].GetString() : null;
            if (library == null && cls == null) continue;
            var folder = Path.Combine(root, p.Name);
            if (!Directory.Exists(folder)) missing.Add($"{p.Name}/ ({library}.{cls})");
            else components[p.Name] = new DiffusersComponent(p.Name, folder, library, cls);
        }
        if (missing.Count > 0)
            throw new DirectoryNotFoundException($"{indexPath} lists components whose folders are missing: " +
                $"{string.Join(", ", missing)} (incomplete download?)");
        return new DiffusersFolder(root, pipeline, components, distilled);
    }

    static DiffusersFolder Discover(string root)
    {
        var components = KnownComponents.Where(c => Directory.Exists(Path.Combine(root, c)))
            .ToDictionary(c => c, c => new DiffusersComponent(c, Path.Combine(root, c), null, null));
        if (components.Count == 0)
            throw new DirectoryNotFoundException($"{root}: no model_index.json and none of the component folders " +
                $"{string.Join(", ", KnownComponents)}");
        return new DiffusersFolder(root, null, components);
    }

    internal static JsonDocument ParseJson(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e); }
    }
}

/// <summary>One component of a pipeline folder: its folder, config and weights.</summary>
public sealed class DiffusersComponent(string name, string folder, string? library, string? className)
{
    /// <summary>Config file names in the order diffusers/transformers use them (schedulers have their own
    /// name).</summary>
    public static readonly string[] ConfigNames = ["config.json", "scheduler_config.json"];

    ConfigJson? config;
    public string Name { get; } = name;
    public string Folder { get; } = folder;
    public string? Library { get; } = library;
    /// <summary>Class from model_index.json, else the config's <c>_class_name</c> when it has one.</summary>
    public string? ClassName => className ?? (HasConfig ? Config.String("_class_name", null) : null);

    public string? ConfigPath => ConfigNames.Select(n => Path.Combine(Folder, n)).FirstOrDefault(File.Exists);
    public bool HasConfig => ConfigPath != null;

    /// <summary>The parsed config (read once).</summary>
    public ConfigJson Config => config ??= ConfigJson.Load(ConfigPath ?? throw new FileNotFoundException(
        $"{Folder}: component '{Name}' has no config ({string.Join(" or ", ConfigNames)}); the model cannot be built " +
        $"without it"));

    /// <summary>Opens the component's weights (see <see cref="WeightFiles"/>); the caller disposes the
    /// source.</summary>
    public ITensorSource OpenWeights() => WeightFiles.Open(Folder);
}
