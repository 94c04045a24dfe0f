using Flux2.Lora;
using Flux2.Nn;
using Flux2.Training.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Training.Network;

/// <summary>One trained adapter and the layer it sits on.</summary>
public sealed record LoraModule(string Name, Linear Layer, LoraAdapter Adapter, Parameter Down, Parameter Up);

/// <summary>
/// Trainable LoRA adapters on a frozen transformer (docs/ai-toolkit-compat.md §2.10): down (lora_A [r, in])
/// Kaiming-uniform with a = √5 (bound 1/√in), up (lora_B [out, r]) zeros, so a fresh network changes nothing; scale
/// = alpha / rank; LoRA weights and their optimizer state in fp32 whatever the model dtype (the forward casts them to
/// the activations').
/// </summary>
public sealed class LoraNetwork : IDisposable
{
    public IReadOnlyList<LoraModule> Modules { get; }
    public int Rank { get; }
    public double Alpha { get; }
    readonly nn.Module model;

    LoraNetwork(nn.Module model, IReadOnlyList<LoraModule> modules, int rank, double alpha, Generator dropoutGenerator)
    {
        this.model = model; Modules = modules; Rank = rank; Alpha = alpha; DropoutGenerator = dropoutGenerator;
    }

    /// <summary>Draws the adapters' dropout masks (CPU, seeded); its state is part of the training state.</summary>
    public Generator DropoutGenerator { get; }

    /// <summary>Freezes every base weight of <paramref name="transformer"/> and attaches the adapters.</summary>
    public static LoraNetwork Attach(nn.Module transformer, NetworkConfig config, long seed)
    {
        foreach (var p in transformer.parameters()) p.requires_grad = false;
        var targets = LoraTargets.Select(transformer, config.NetworkKwargs);
        if (targets.Count == 0)
            throw new InvalidDataException("network_kwargs filters leave no Linear layer to train (only_if_contains " +
                "/ ignore_if_contains)");
        using var gen = new Generator((ulong)seed);
        var dropoutGenerator = new Generator((ulong)seed + 1);
        var modules = new List<LoraModule>();
        foreach (var (name, linear) in targets)
        {
            var device = linear.weight.device;
            double bound = 1.0 / Math.Sqrt(linear.InFeatures);
            using var u = rand(new[] { (long)config.Linear, linear.InFeatures }, generator: gen);
            var down = new Parameter((u * (2 * bound) - bound).to(device), requires_grad: true);
            var up = new Parameter(zeros(new[] { linear.OutFeatures, (long)config.Linear }, device: device),
                requires_grad: true);
            var adapter = new LoraAdapter(down, up, config.Scale)
            {
                Dropout = config.Dropout,
                DropoutGenerator = dropoutGenerator
            };
            linear.Adapters.Add(adapter);
            modules.Add(new LoraModule(name, linear, adapter, down, up));
        }
        return new LoraNetwork(transformer, modules, config.Linear, config.Alpha, dropoutGenerator);
    }

    public IEnumerable<Parameter> Parameters => Modules.SelectMany(m => new[] { m.Down, m.Up });

    public long ParameterCount => Modules.Sum(m => m.Down.numel() + m.Up.numel());

    /// <summary>Switches every adapter on or off (off = the base model, e.g. for "without LoRA" comparisons).</summary>
    public bool Enabled
    {
        get => Modules.All(m => m.Adapter.Enabled);
        set { foreach (var m in Modules) m.Adapter.Enabled = value; }
    }

    /// <summary>Detached copies of the current weights, for saving.</summary>
    public IReadOnlyList<LoraUpdate> Snapshot() =>
        Modules.Select(m => new LoraUpdate(m.Name, m.Down.detach().cpu(), m.Up.detach().cpu(), m.Adapter.Scale))
            .ToList();

    /// <summary>Removes the adapters from the model and frees their weights.</summary>
    public void Dispose()
    {
        foreach (var m in Modules) { m.Layer.Adapters.Remove(m.Adapter); m.Down.Dispose(); m.Up.Dispose(); }
        DropoutGenerator.Dispose();
    }
}
