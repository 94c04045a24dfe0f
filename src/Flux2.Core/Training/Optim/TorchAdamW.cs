using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Training.Optim;

/// <summary>TorchSharp's AdamW behind <see cref="ITrainingOptimizer"/>: two fp32 moments per parameter (8 bytes
/// each).</summary>
public sealed class TorchAdamW : ITrainingOptimizer
{
    readonly AdamW inner;

    public TorchAdamW(IReadOnlyList<Parameter> parameters, AdamWHyperParameters h)
        => inner = optim.AdamW(parameters, h.Lr, h.Beta1, h.Beta2, h.Eps, h.WeightDecay);

    public string Name => "adamw";

    public double LearningRate
    {
        get => inner.ParamGroups.First().LearningRate;
        set { foreach (var g in inner.ParamGroups) g.LearningRate = value; }
    }

    public void ZeroGrad() => inner.zero_grad();
    public void Step() => inner.step();

    // TorchSharp allocates both moments when the optimizer is built, so this is the size from the start.
    public long StateBytes => States().Sum(s => Bytes(s.exp_avg) + Bytes(s.exp_avg_sq) + Bytes(s.max_exp_avg_sq));

    public IReadOnlyDictionary<string, Tensor> State()
    {
        var named = new Dictionary<string, Tensor>();
        foreach (var (s, i) in States().Select((s, i) => (s, i)))
        {
            named[$"{i}.exp_avg"] = s.exp_avg;
            named[$"{i}.exp_avg_sq"] = s.exp_avg_sq;
            named[$"{i}.step"] = tensor(s.step);
        }
        return named;
    }

    public void Load(IReadOnlyDictionary<string, Tensor> state)
    {
        // state_dict() hands out the live per-parameter states; load_state_dict copies them back in case a version
        // copies.
        var dict = inner.state_dict();
        using var _ = no_grad();
        foreach (var (s, i) in dict.State.Cast<AdamW.State>().Select((s, i) => (s, i)))
        {
            s.exp_avg.copy_(Named(state, $"{i}.exp_avg"));
            s.exp_avg_sq.copy_(Named(state, $"{i}.exp_avg_sq"));
            s.step = Named(state, $"{i}.step").item<long>();
        }
        inner.load_state_dict(dict);
    }

    IEnumerable<AdamW.State> States() => inner.state_dict().State.Cast<AdamW.State>();

    static long Bytes(Tensor? t) => t is null || t.IsInvalid ? 0 : t.numel() * t.ElementSize;

    internal static Tensor Named(IReadOnlyDictionary<string, Tensor> state, string key)
        => state.TryGetValue(key, out var t) ? t
            : throw new ArgumentException($"optimizer state has no tensor '{key}'");

    public void Dispose() => inner.Dispose();
}
