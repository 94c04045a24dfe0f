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

    /// <summary>The LoRA strength of each sample of the next forwards (their datasets' network_weight): one
    /// multiplier when they agree, else per-sample multipliers.</summary>
    public void SetMultipliers(IReadOnlyList<double> perSample)
    {
        bool uniform = perSample.All(w => w == perSample[0]);
        var previous = Modules[0].Adapter.SampleMultiplier;
        var shared = uniform ? null : tensor(perSample.Select(w => (float)w).ToArray());
        shared?.DetachFromDisposeScope();
        foreach (var m in Modules)
        {
            m.Adapter.Multiplier = uniform ? perSample[0] : 1.0;
            m.Adapter.SampleMultiplier = shared;
        }
        previous?.Dispose();
    }

    /// <summary>Starts from the weights of a LoRA file (network.pretrained_lora_path): every module of the file must
    /// be one of this network's, at its rank; the up weights absorb the ratio of the file's scale to this network's,
    /// so ΔW is the file's. Modules the file lacks keep their fresh initialization (ΔW = 0). Returns how many
    /// modules were loaded.</summary>
    public int LoadWeights(IReadOnlyList<LoraUpdate> updates, string origin)
    {
        var byName = Modules.ToDictionary(m => m.Name);
        var unknown = updates.Where(u => !byName.ContainsKey(u.Module)).Select(u => u.Module).ToList();
        if (unknown.Count > 0)
            throw new UserError($"network.pretrained_lora_path {origin}: it has LoRA weights for layers this job " +
                $"does not train ({string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", ..." : "")}); use " +
                "the network_kwargs (target_preset, only_if_contains, ignore_if_contains) it was trained with");
        using var _ = no_grad();
        foreach (var u in updates)
        {
            var m = byName[u.Module];
            if (u.Down.shape[0] != m.Down.shape[0] || u.Down.shape[1] != m.Down.shape[1]
                || u.Up.shape[0] != m.Up.shape[0])
                throw new UserError($"network.pretrained_lora_path {origin}: '{u.Module}' has rank {u.Down.shape[0]}" +
                    $" ([{u.Up.shape[0]} x {u.Down.shape[1]}]), this job's is rank {m.Down.shape[0]} " +
                    $"([{m.Up.shape[0]} x {m.Down.shape[1]}]); set network.linear to the file's rank");
            m.Down.copy_(u.Down);
            m.Up.copy_(u.Up.to(float64) * (u.Scale / m.Adapter.Scale));
        }
        return updates.Count;
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
