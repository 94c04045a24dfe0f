using Flux2.Pipeline;
using static TorchSharp.torch;

namespace Flux2.Evaluation;

/// <summary>The base model's evaluation images (no LoRA) kept between evaluations of several LoRAs with one loaded
/// model, the same prompts and the same sampling options, e.g. the runs of a sweep: those images are the same for
/// every LoRA, so each set is generated once. Serves one <see cref="Flux2Models"/> instance and owns its
/// tensors.</summary>
public sealed class BaseImageCache : IDisposable
{
    readonly Dictionary<string, Tensor> images = new();
    Flux2Models? models;

    /// <summary>How many image sets were generated (the rest were served from the cache).</summary>
    public int Generated { get; private set; }

    /// <summary>The images for (<paramref name="what"/>, <paramref name="prompts"/>, <paramref name="options"/> at
    /// any LoRA strength), from <paramref name="generate"/> the first time.</summary>
    public Tensor GetOrAdd(Flux2Models models, string what, IReadOnlyList<string> prompts, LoraEvalOptions options,
        Func<Tensor> generate)
    {
        this.models ??= models;
        if (!ReferenceEquals(this.models, models))
            throw new InvalidOperationException("bug: a BaseImageCache serves one loaded model, got a second one");
        var key = string.Join("\n", [what, .. prompts, (options with { LoraStrength = 1 }).ToString()]);
        if (images.TryGetValue(key, out var cached)) return cached;
        var made = generate().DetachFromDisposeScope();
        images[key] = made;
        Generated++;
        return made;
    }

    public void Dispose()
    {
        foreach (var t in images.Values) t.Dispose();
        images.Clear();
    }
}
