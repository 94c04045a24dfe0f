using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Training.Optim;

/// <summary>
/// AdamW with both moments stored in 8 bits, block-wise (ai-toolkit's UI default is bitsandbytes' AdamW8bit; this is
/// our own, in tensor ops, so it runs on CPU and CUDA alike). Per step and parameter: dequantize the moments to fp32,
/// the AdamW update exactly as torch.optim.AdamW does it (decoupled weight decay, bias correction), requantize.
/// The first moment m uses the signed dynamic map. For the second moment we store s = √v with the unsigned dynamic
/// map: s has the scale of |g| and of |m|, so wherever m is still resolvable so is its denominator; storing v itself
/// would square the dynamic range and round small v in a block to 0, turning m/(√v + eps) into m/eps.
/// State: 2 bytes per value + 8 bytes per block of 256 (≈ 25.4% of fp32 AdamW's 8 bytes per value).
/// Rounding is to the nearest code (no stochastic rounding), so a run and its resume are bit-identical.
/// </summary>
public sealed class AdamW8bit : ITrainingOptimizer
{
    sealed record Slot(Parameter Param, Tensor MCodes, Tensor MAbsmax, Tensor SCodes, Tensor SAbsmax);

    readonly AdamWHyperParameters h;
    readonly List<Slot> slots;
    readonly BlockQuantizer first, second;
    long step;

    public AdamW8bit(IReadOnlyList<Parameter> parameters, AdamWHyperParameters hyper, int blockSize = 256)
    {
        h = hyper;
        LearningRate = hyper.Lr;
        first = new BlockQuantizer(QuantizationMap.DynamicSigned, blockSize);
        second = new BlockQuantizer(QuantizationMap.DynamicUnsigned, blockSize);
        slots = parameters.Select(p =>
        {
            long n = p.numel(), blocks = first.BlockCount(n);
            // Zero codes decode to exactly 0 in both maps (absmax 0 too): the fresh-optimizer state.
            var slot = new Slot(p,
                zeros(n, ScalarType.Byte, p.device), zeros(blocks, ScalarType.Float32, p.device),
                zeros(n, ScalarType.Byte, p.device), zeros(blocks, ScalarType.Float32, p.device));
            foreach (var t in new[] { slot.MCodes, slot.MAbsmax, slot.SCodes, slot.SAbsmax })
                t.DetachFromDisposeScope();
            return slot;
        }).ToList();
    }

    public string Name => "adamw8bit";
    public double LearningRate { get; set; }
    public int BlockSize => first.BlockSize;
    public long Steps => step;

    public void ZeroGrad()
    {
        foreach (var s in slots) s.Param.grad?.zero_();
    }

    public void Step()
    {
        step++;
        double bc1 = 1 - Math.Pow(h.Beta1, step), bc2 = 1 - Math.Pow(h.Beta2, step);
        using var _ = no_grad();
        foreach (var slot in slots)
        {
            if (slot.Param.grad is null) continue;
            using var scope = NewDisposeScope();
            var p = slot.Param;
            var g = p.grad!.flatten().to(ScalarType.Float32);
            var m = first.Dequantize(slot.MCodes, slot.MAbsmax);
            var sq = second.Dequantize(slot.SCodes, slot.SAbsmax);
            m = m.mul(h.Beta1).add(g, alpha: 1 - h.Beta1);
            var v = sq.square().mul(h.Beta2).addcmul(g, g, value: 1 - h.Beta2);
            sq = v.sqrt();

            // Same order and formula as torch.optim.AdamW: decay, then p -= lr/bc1 · m / (√v/√bc2 + eps).
            var w = p.flatten().to(ScalarType.Float32);
            w = w.mul(1 - LearningRate * h.WeightDecay);
            var denom = (sq / Math.Sqrt(bc2)).add(h.Eps);
            w = w.addcdiv(m, denom, value: -LearningRate / bc1);
            p.copy_(w.view(p.shape).to(p.dtype));

            first.Quantize(m, slot.MCodes, slot.MAbsmax);
            second.Quantize(sq, slot.SCodes, slot.SAbsmax);
        }
    }

    public long StateBytes =>
        slots.Sum(s => Bytes(s.MCodes) + Bytes(s.MAbsmax) + Bytes(s.SCodes) + Bytes(s.SAbsmax))
        + 2 * 256 * sizeof(float) + sizeof(long); // the two code tables and the step counter

    public IReadOnlyDictionary<string, Tensor> State()
    {
        var named = new Dictionary<string, Tensor> { ["step"] = tensor(step) };
        foreach (var (s, i) in slots.Select((s, i) => (s, i)))
        {
            named[$"{i}.exp_avg.codes"] = s.MCodes;
            named[$"{i}.exp_avg.absmax"] = s.MAbsmax;
            named[$"{i}.exp_avg_sq_sqrt.codes"] = s.SCodes;
            named[$"{i}.exp_avg_sq_sqrt.absmax"] = s.SAbsmax;
        }
        return named;
    }

    public void Load(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        foreach (var (s, i) in slots.Select((s, i) => (s, i)))
        {
            Copy(s.MCodes, state, $"{i}.exp_avg.codes");
            Copy(s.MAbsmax, state, $"{i}.exp_avg.absmax");
            Copy(s.SCodes, state, $"{i}.exp_avg_sq_sqrt.codes");
            Copy(s.SAbsmax, state, $"{i}.exp_avg_sq_sqrt.absmax");
        }
        step = TorchAdamW.Named(state, "step").item<long>();
    }

    static void Copy(Tensor into, IReadOnlyDictionary<string, Tensor> state, string key)
    {
        var from = TorchAdamW.Named(state, key);
        if (!from.shape.SequenceEqual(into.shape) || from.dtype != into.dtype)
            throw new ArgumentException($"optimizer state '{key}' is {from.dtype}[{string.Join(",", from.shape)}], " +
                $"expected {into.dtype}[{string.Join(",", into.shape)}]");
        into.copy_(from);
    }

    static long Bytes(Tensor t) => t.numel() * t.ElementSize;

    public void Dispose()
    {
        foreach (var s in slots) { s.MCodes.Dispose(); s.MAbsmax.Dispose(); s.SCodes.Dispose(); s.SAbsmax.Dispose(); }
    }
}
