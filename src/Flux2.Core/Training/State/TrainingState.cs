using System.Text.Json;
using static TorchSharp.torch;

namespace Flux2.Training.State;

/// <summary>
/// Everything a run needs to continue exactly: named CPU tensors (fp32 weights, optimizer moments, EMA shadow, the
/// noise generator's bytes) and small JSON values (step, counters, PRNG words, data-order cursor). The trainer and
/// the task each put their own parts in under their own key prefixes; <see cref="TrainingStateFile"/> stores it.
/// Owns its tensors.
/// </summary>
public sealed class TrainingState : IDisposable
{
    public Dictionary<string, Tensor> Tensors { get; } = new(StringComparer.Ordinal);
    /// <summary>Key → JSON text (safetensors metadata is string → string).</summary>
    public Dictionary<string, string> Values { get; } = new(StringComparer.Ordinal);

    public int Step => Get<int>("step");

    /// <summary>Stores a detached CPU copy, so later training does not change what is saved.</summary>
    public void PutTensor(string key, Tensor t) => Tensors[key] = t.detach().cpu().clone();

    public Tensor GetTensor(string key) =>
        Tensors.TryGetValue(key, out var t) ? t
            : throw new InvalidDataException($"training state has no tensor '{key}'");

    public void Put<T>(string key, T value) => Values[key] = JsonSerializer.Serialize(value);

    /// <summary>The value under <paramref name="key"/>; <see cref="InvalidDataException"/> when it is missing or
    /// is not a <typeparamref name="T"/>.</summary>
    public T Get<T>(string key)
    {
        if (!Values.TryGetValue(key, out var json))
            throw new InvalidDataException($"training state has no value '{key}'");
        try
        {
            return JsonSerializer.Deserialize<T>(json)
                ?? throw new InvalidDataException($"training state value '{key}' is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"training state value '{key}' is not a {typeof(T).Name}: {e.Message}");
        }
    }

    public bool Has(string key) => Values.ContainsKey(key) || Tensors.ContainsKey(key);

    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
        Tensors.Clear();
    }
}

/// <summary>The saved state does not fit the job as configured now (network shape or targets changed).</summary>
public sealed class ResumeMismatchException(string message) : Exception(message);
