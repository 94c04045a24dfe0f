using Flux2.IO;
using Flux2.IO.Hub;

namespace Flux2.Pipeline;

/// <summary>
/// The image size and sampling settings a model is meant to be used at, for every place where the user gave none
/// (job <c>sample:</c> keys and dataset <c>resolution</c>, <c>./flux2 generate</c>, <c>./flux2 eval</c>). A model
/// folder states them in <see cref="FileName"/> beside model_index.json, with the job YAML's key names:
/// <code>{ "width": 128, "height": 128, "sample_steps": 20, "guidance_scale": 4.0 }</code>
/// Every key is required. A folder without the file is taken to be FLUX.2-dev-sized (<see cref="Flux2Dev"/>).
/// </summary>
public sealed record ModelSampleDefaults(int Width, int Height, int SampleSteps, double GuidanceScale, string Source)
{
    public const string FileName = "sample_defaults.json";

    /// <summary>FLUX.2-dev's own defaults (diffusers Flux2Pipeline: 1024², 50 steps, guidance 4).</summary>
    public static readonly ModelSampleDefaults Flux2Dev = new(1024, 1024, 50, 4.0,
        $"FLUX.2-dev default: the model folder has no {FileName}");

    /// <summary>The random test model: small enough that a sample is instant.</summary>
    public static readonly ModelSampleDefaults TinyRandom = new(64, 64, 8, 4.0, "tiny-random default");

    /// <summary>The settings <paramref name="modelRoot"/> states in its <see cref="FileName"/>; null when it has
    /// none. A malformed file fails with a <see cref="ConfigException"/> naming the file and key.</summary>
    public static ModelSampleDefaults? Stated(string modelRoot)
    {
        var path = Path.Combine(modelRoot, FileName);
        if (!File.Exists(path)) return null;
        var json = ConfigJson.Load(path);
        int Side(string key) => json.NullableInt(key) is int n and >= 16 and <= Flux2Pipeline.MaxImageSide ? n
            : throw new ConfigException(path, key, $"must be an image side of 16 to {Flux2Pipeline.MaxImageSide}");
        int steps = json.NullableInt("sample_steps") is int s and >= 1 and <= 1000 ? s
            : throw new ConfigException(path, "sample_steps", "must be a step count of 1 to 1000");
        double guidance = json.Has("guidance_scale") ? json.Double("guidance_scale", double.NaN) : double.NaN;
        if (!(guidance >= 0 && double.IsFinite(guidance)))
            throw new ConfigException(path, "guidance_scale", "must be a finite number >= 0");
        return new(Side("width"), Side("height"), steps, guidance, $"model default from {path}");
    }

    /// <summary>The settings stated by the model that <paramref name="spec"/> names (a folder, a repo id in the
    /// cache, <see cref="Models.MicroModel.Name"/>); null for <see cref="Flux2Models.TinyRandom"/>, a model without
    /// the file, or one that cannot be found (loading it reports that).</summary>
    public static ModelSampleDefaults? StatedFor(string spec, HfCache? cache = null)
    {
        if (spec == Flux2Models.TinyRandom) return null;
        string root;
        try { root = Flux2Models.ResolveFolder(spec, cache); }
        catch (Exception e) when (e is DirectoryNotFoundException or HubException) { return null; }
        return Stated(root);
    }

    /// <summary>What to sample <paramref name="spec"/> at when nothing is given: its stated settings, else
    /// <see cref="TinyRandom"/> or <see cref="Flux2Dev"/>.</summary>
    public static ModelSampleDefaults For(string spec, HfCache? cache = null) =>
        spec == Flux2Models.TinyRandom ? TinyRandom : StatedFor(spec, cache) ?? Flux2Dev;

    /// <summary>"128x128, 20 steps, guidance 4".</summary>
    public string Summary =>
        $"{Width}x{Height}, {SampleSteps} steps, guidance " +
        GuidanceScale.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
