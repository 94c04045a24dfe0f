using Flux2.Lora;
using Flux2.Nn;
using Flux2.Training.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Linear = Flux2.Nn.Linear;

namespace Flux2.Training.Network;

/// <summary>One trained adapter and the layer it sits on. A LoRA part of a fused qkv holds the group's shared down
/// parameter and a row block of its up parameter; a LoKr part, the group's factors and its row block
/// (<see cref="LokrAdapter.Rows"/>). <paramref name="Group"/>: the BFL name of the Linear the adapter belongs to
/// (the fused qkv for its parts).</summary>
public sealed record LoraModule(string Name, Linear Layer, LinearAdapter Adapter, string Group)
{
    public LoraAdapter Lora => Adapter as LoraAdapter
        ?? throw new InvalidOperationException($"'{Name}' has a {Adapter.GetType().Name}, not a LoRA");
    public Tensor Down => Lora.Down;
    public Tensor Up => Lora.Up;
}

/// <summary>
/// Trainable LoRA adapters on a frozen transformer (docs/ai-toolkit-compat.md §2.10): down (lora_A [r, in])
/// Kaiming-uniform with a = √5 (bound 1/√in), up (lora_B [out, r]) zeros, so a fresh network changes nothing; scale
/// = alpha / rank; LoRA weights and their optimizer state in fp32 whatever the model dtype (the forward casts them to
/// the activations'). With the ai-toolkit preset, the q, k, v Linears of a double block's image or text attention
/// (one fused <c>qkv</c> Linear in the BFL model ai-toolkit trains) share one adapter as ai-toolkit's: one down
/// [r, in] and one up [3·out, r] whose row blocks are q's, k's and v's ups; saved, that is <c>qkv.lora_A [r, in]</c>
/// and <c>qkv.lora_B [3·out, r]</c>. The diffusers preset keeps a rank-r adapter per q, k, v.
/// </summary>
public sealed class LoraNetwork : IDisposable
{
    public IReadOnlyList<LoraModule> Modules { get; }
    public int Rank { get; }
    public double Alpha { get; }
    /// <summary>The trained tensors (a fused qkv's down and up once each), in a fixed order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>Whether the q/k/v of each attention share one adapter (the ai-toolkit preset, and LoKr).</summary>
    public bool FusedQkv { get; }
    public NetworkType Type { get; }
    readonly nn.Module model;

    LoraNetwork(nn.Module model, IReadOnlyList<LoraModule> modules, IReadOnlyList<Parameter> parameters, int rank,
        double alpha, bool fusedQkv, NetworkType type, Generator dropoutGenerator)
    {
        this.model = model; Modules = modules; Parameters = parameters; Rank = rank; Alpha = alpha;
        FusedQkv = fusedQkv; Type = type; DropoutGenerator = dropoutGenerator;
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
        bool lokr = config.Type == NetworkType.Lokr;
        bool fuse = lokr || config.NetworkKwargs.TargetPreset == LoraTargetPreset.AiToolkit;
        var groups = fuse ? FusedGroups(targets) : new Dictionary<string, List<(string, Linear)>>();
        var modules = new List<LoraModule>();
        var parameters = new List<Parameter>();
        var done = new HashSet<string>();
        long r = config.Linear;
        foreach (var (name, linear) in targets)
        {
            if (done.Contains(name)) continue;
            var parts = groups.GetValueOrDefault(name) ?? [(name, linear)];
            var group = IO.BflTransformerKeyMap.ToBfl(name + ".weight") is { } bfl ? bfl.Key[..^".weight".Length]
                : name;
            foreach (var (partName, _) in parts) done.Add(partName);
            if (lokr)
            {
                if (parts.Count == 1 && IO.BflTransformerKeyMap.ToBfl(name + ".weight") is { Chunks: > 1 })
                    throw new UserError($"network.type lokr: '{name}' is one of q, k, v of the fused '{group}' but " +
                        "not all three are targeted; LoKr trains the fused Linear as one (check ignore_if_contains)");
                AddLokr(parts, group, config, gen, modules, parameters);
                continue;
            }
            var device = linear.weight.device;
            double bound = 1.0 / Math.Sqrt(linear.InFeatures);
            using var u = rand(new[] { r, linear.InFeatures }, generator: gen);
            var down = new Parameter((u * (2 * bound) - bound).to(device), requires_grad: true);
            var up = new Parameter(zeros(new[] { parts.Sum(p => p.Item2.OutFeatures), r }, device: device),
                requires_grad: true);
            parameters.Add(down);
            parameters.Add(up);
            long row = 0;
            foreach (var (partName, part) in parts)
            {
                var partUp = parts.Count == 1 ? up : up.narrow(0, row, part.OutFeatures);
                row += part.OutFeatures;
                var adapter = new LoraAdapter(down, partUp, config.Scale)
                {
                    Dropout = config.Dropout,
                    DropoutGenerator = dropoutGenerator
                };
                part.Adapters.Add(adapter);
                modules.Add(new LoraModule(partName, part, adapter, group));
            }
        }
        return new LoraNetwork(transformer, modules, parameters, config.Linear, config.Alpha, fuse, config.Type,
            dropoutGenerator);
    }

    /// <summary>ai-toolkit's LoKr for a Linear of out × in (the fused qkv for its parts): out = a·b and in = c·d by
    /// <see cref="Factorization"/> with lokr_factor, W1 [a, c] Kaiming-uniform, W2 [b, d] zeros — or, when the rank
    /// is below max(b, d)/2 (only with lokr_full_rank: false), W2a [b, r] Kaiming-uniform and W2b [r, d] zeros with
    /// scale alpha / r. With full W1 and W2 the scale is 1 (lokr_full_rank sets rank and alpha to
    /// 9999999999).</summary>
    static void AddLokr(List<(string, Linear)> parts, string group, NetworkConfig config, Generator gen,
        List<LoraModule> modules, List<Parameter> parameters)
    {
        var first = parts[0].Item2;
        var device = first.weight.device;
        long outF = parts.Sum(p => p.Item2.OutFeatures), inF = first.InFeatures;
        var (a, b) = Factorization(outF, config.LokrFactor);
        var (c, d) = Factorization(inF, config.LokrFactor);
        long rank = config.LokrFullRank ? long.MaxValue : config.Linear;
        bool fullW2 = rank >= Math.Max(b, d) / 2.0;
        double scale = fullW2 ? 1.0 : config.Alpha / config.Linear;
        Parameter Uniform(long rows, long fanIn)
        {
            double bound = 1.0 / Math.Sqrt(fanIn);
            using var u = rand(new[] { rows, fanIn }, generator: gen);
            return new Parameter((u * (2 * bound) - bound).to(device), requires_grad: true);
        }
        var w1 = Uniform(a, c);
        Parameter w2, w2b;
        if (fullW2)
        {
            w2 = new Parameter(zeros(new[] { b, d }, device: device), requires_grad: true);
            parameters.AddRange([w1, w2]);
            w2b = null!;
        }
        else
        {
            w2 = Uniform(b, rank);
            w2b = new Parameter(zeros(new[] { rank, d }, device: device), requires_grad: true);
            parameters.AddRange([w1, w2, w2b]);
        }
        long row = 0;
        foreach (var (partName, part) in parts)
        {
            var adapter = new LokrAdapter(w1, w2, scale, parts.Count == 1 ? null : (row, part.OutFeatures))
            {
                W2b = fullW2 ? null : w2b,
            };
            row += part.OutFeatures;
            part.Adapters.Add(adapter);
            modules.Add(new LoraModule(partName, part, adapter, group));
        }
    }

    /// <summary>LyCORIS' factorization (as ai-toolkit's LoKr): <paramref name="dimension"/> = m·n with m ≤ n;
    /// <paramref name="factor"/> &gt; 0 dividing it gives (factor, dimension / factor) (then ordered), -1 the pair
    /// closest to √dimension, another factor the closest pair whose m stays ≤ factor.</summary>
    public static (long M, long N) Factorization(long dimension, int factor)
    {
        if (factor > 0 && dimension % factor == 0)
            return (factor, dimension / factor);
        long limit = factor == -1 ? dimension : factor;
        long m = 1, n = dimension, length = m + n;
        while (m < n)
        {
            long newM = m + 1;
            while (dimension % newM != 0) newM++;
            long newN = dimension / newM;
            if (newM + newN > length || newM > limit) break;
            (m, n) = (newM, newN);
        }
        return m > n ? (n, m) : (m, n);
    }

    /// <summary>Targets that are the q, k, v parts of one fused BFL Linear (an attention's <c>qkv</c>), all three
    /// targeted, in q, k, v order, keyed by the name of the q part (where the group is met in the target
    /// list).</summary>
    static Dictionary<string, List<(string, Linear)>> FusedGroups(IReadOnlyList<(string name, Linear linear)> targets)
        => targets.Select(t => (t, loc: IO.BflTransformerKeyMap.ToBfl(t.name + ".weight")))
            .Where(x => x.loc is { Chunks: > 1 })
            .GroupBy(x => x.loc!.Key)
            .Where(g => g.Count() == g.First().loc!.Chunks)
            .Select(g => g.OrderBy(x => x.loc!.Chunk).Select(x => (x.t.name, x.t.linear)).ToList())
            .ToDictionary(parts => parts[0].name);

    public long ParameterCount => Parameters.Sum(p => p.numel());

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

    /// <summary>Starts from the weights of a LoRA or LoKr file (network.pretrained_lora_path): a LoKr file
    /// (<see cref="LokrFile.IsLokr(string)"/>) for a LoKr network, a LoRA file for a LoRA network. Returns how many
    /// modules (LoKr: BFL Linears) were loaded.</summary>
    public int LoadWeights(string path)
        => LokrFile.IsLokr(path) ? LoadWeights(LokrFile.Read(path), path) : LoadWeights(LoraFile.Read(path), path);

    /// <summary>A LoKr network from LoKr factors: every Linear of the file must be one of this network's, with
    /// factors of this network's shapes; W1 absorbs the ratio of the file's scale to this network's, so ΔW is the
    /// file's. Linears the file lacks keep their fresh initialization (ΔW = 0).</summary>
    public int LoadWeights(IReadOnlyList<LokrUpdate> updates, string origin)
    {
        if (Type != NetworkType.Lokr)
            throw new UserError($"network.pretrained_lora_path {origin}: it is a LoKr file, this job trains a " +
                $"{YamlNames.EnumName(Type)}; set network.type: lokr (with the lokr_factor and lokr_full_rank it was " +
                "trained with)");
        var byGroup = Modules.GroupBy(m => m.Group).ToDictionary(g => g.Key, g => (LokrAdapter)g.First().Adapter);
        var unknown = updates.Where(u => !byGroup.ContainsKey(u.Module)).Select(u => u.Module).ToList();
        if (unknown.Count > 0)
            throw new UserError($"network.pretrained_lora_path {origin}: it has LoKr weights for layers this job " +
                $"does not train ({string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", ..." : "")}); use " +
                "the network_kwargs (only_if_contains, ignore_if_contains) it was trained with");
        static string Shapes(Tensor w1, Tensor w2, Tensor? w2b) => $"w1 [{string.Join(" x ", w1.shape)}], w2 " +
            $"[{string.Join(" x ", w2.shape)}]" + (w2b is null ? "" : $" · [{string.Join(" x ", w2b.shape)}]");
        using var _ = no_grad();
        foreach (var u in updates)
        {
            var a = byGroup[u.Module];
            bool same = u.W1.shape.SequenceEqual(a.W1.shape) && u.W2.shape.SequenceEqual(a.W2.shape)
                && (u.W2b is null) == (a.W2b is null) && (u.W2b is null || u.W2b.shape.SequenceEqual(a.W2b!.shape));
            if (!same)
                throw new UserError($"network.pretrained_lora_path {origin}: '{u.Module}' has LoKr factors " +
                    $"{Shapes(u.W1, u.W2, u.W2b)}, this job's are {Shapes(a.W1, a.W2, a.W2b)}; set " +
                    "network.lokr_factor, lokr_full_rank and linear to the file's");
            a.W1.copy_(u.W1.to(float64) * (u.Scale / a.Scale));
            a.W2.copy_(u.W2);
            a.W2b?.copy_(u.W2b!);
        }
        return updates.Count;
    }

    /// <summary>A LoRA network from LoRA updates: every module of the file must be one of this network's, at its
    /// rank; the up weights absorb the ratio of the file's scale to this network's, so ΔW is the file's. Modules the
    /// file lacks keep their fresh initialization (ΔW = 0).</summary>
    public int LoadWeights(IReadOnlyList<LoraUpdate> updates, string origin)
    {
        if (Type != NetworkType.Lora)
            throw new UserError($"network.pretrained_lora_path {origin}: it is a LoRA file, this job trains a " +
                $"{YamlNames.EnumName(Type)}; a {YamlNames.EnumName(Type)} network starts from a file of its own " +
                "type only");
        var byName = Modules.ToDictionary(m => m.Name);
        var unknown = updates.Where(u => !byName.ContainsKey(u.Module)).Select(u => u.Module).ToList();
        if (unknown.Count > 0)
            throw new UserError($"network.pretrained_lora_path {origin}: it has LoRA weights for layers this job " +
                $"does not train ({string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", ..." : "")}); use " +
                "the network_kwargs (target_preset, only_if_contains, ignore_if_contains) it was trained with");
        using var _ = no_grad();
        foreach (var shared in updates.GroupBy(u => byName[u.Module].Down).Where(g => g.Count() > 1))
            if (shared.Any(u => !u.Down.shape.SequenceEqual(shared.First().Down.shape)
                                || (u.Down - shared.First().Down).abs().max().item<float>() != 0))
                throw new UserError($"network.pretrained_lora_path {origin}: its q/k/v LoRAs of " +
                    $"'{shared.First().Module}' have separate down-projections, this job trains one shared by the " +
                    "fused qkv (as ai-toolkit); to continue that file set network_kwargs.target_preset: diffusers");
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
        Modules.Select(m => new LoraUpdate(m.Name, m.Down.detach().cpu(), m.Up.detach().cpu(), m.Lora.Scale))
            .ToList();

    /// <summary>Removes the adapters from the model and frees their weights.</summary>
    public void Dispose()
    {
        foreach (var m in Modules)
        {
            m.Layer.Adapters.Remove(m.Adapter);
            if (m.Adapter is LoraAdapter lora && !Parameters.Any(p => ReferenceEquals(p, lora.Up)))
                lora.Up.Dispose(); // a row block of a fused up
        }
        foreach (var p in Parameters) p.Dispose();
        DropoutGenerator.Dispose();
    }
}
