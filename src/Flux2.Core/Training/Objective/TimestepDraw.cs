using Flux2.Training.Config;

namespace Flux2.Training.Objective;

/// <summary>One drawn noise level: t in (0, 1] (1 = pure noise) and its loss weight.</summary>
public readonly record struct Timestep(double T, double Weight);

/// <summary>
/// ai-toolkit's timestep choice (docs/ai-toolkit-compat.md §2.3): each step builds a 1000-entry descending table of t
/// for the timestep_type, then draws an index per sample by content_or_style within
/// [min_denoising_steps, max_denoising_steps) — small indices are high noise.
/// <list type="bullet">
/// <item>linear: linspace(1, 0.001) — uniform t;</item>
/// <item>weighted: the same table, loss weighted by <see cref="TimestepWeights"/>;</item>
/// <item>sigmoid: 1000 draws of 1 − sigmoid(N(0, 1)), sorted — logit-normal t centred at 0.5;</item>
/// <item>shift: linspace, then FLUX's resolution-dependent time shift, mu = 0.5 at 256 tokens → 1.15 at 4096;</item>
/// <item>lognorm_blend: 75% 1 − x/max(x) with x ~ LogNormal(0, 0.333), 25% linear.</item></list>
/// All randomness comes from the given <see cref="Random"/>, so a seed fixes the sequence.
/// </summary>
public sealed class TimestepDraw(TimestepType type, ContentOrStyle bias, int minIndex = 0, int maxIndex = 999)
{
    public const int TableSize = 1000;

    public static TimestepDraw From(TrainConfig train) => new(train.TimestepType, train.ContentOrStyle,
        train.MinDenoisingSteps, train.MaxDenoisingSteps);

    public Timestep[] Draw(int batch, int imageTokens, Random rng)
    {
        var table = BuildTable(imageTokens, rng);
        var result = new Timestep[batch];
        for (int b = 0; b < batch; b++)
        {
            double u = rng.NextDouble();
            int index = bias switch
            {
                ContentOrStyle.Content => minIndex + (int)(u * u * u * (maxIndex - minIndex)),
                ContentOrStyle.Style => minIndex + (int)((1 - u * u * u) * (maxIndex - minIndex)),
                _ => minIndex + (int)(u * (maxIndex - minIndex)), // upper bound exclusive, as in ai-toolkit
            };
            double t = table[Math.Clamp(index, 0, TableSize - 1)];
            result[b] = new Timestep(t, type == TimestepType.Weighted ? TimestepWeights.At(t) : 1.0);
        }
        return result;
    }

    double[] BuildTable(int imageTokens, Random rng)
    {
        var linear = Enumerable.Range(0, TableSize).Select(i => (1000.0 - i * 999.0 / (TableSize - 1)) / 1000.0)
            .ToArray();
        switch (type)
        {
            case TimestepType.Sigmoid:
                return Descending(Enumerable.Range(0, TableSize).Select(_ => 1 - Sigmoid(Normal(rng))));
            case TimestepType.Shift:
                double mu = ShiftMu(imageTokens);
                return linear.Select(t => Math.Exp(mu) / (Math.Exp(mu) + (1 / t - 1))).ToArray();
            case TimestepType.LognormBlend:
                int n = TableSize * 3 / 4;
                var x = Enumerable.Range(0, n).Select(_ => Math.Exp(0.333 * Normal(rng))).ToArray();
                double max = x.Max();
                var blend = x.Select(v => Math.Max(1 - v / max, 1.0 / TableSize))
                             .Concat(Enumerable.Range(0, TableSize - n).Select(_ => linear[rng.Next(TableSize)]));
                return Descending(blend);
            default:
                return linear;
        }
    }

    /// <summary>mu of FLUX's dynamic shift: linear in the image token count, 256 → 0.5, 4096 → 1.15.</summary>
    public static double ShiftMu(int imageTokens) => 0.5 + (imageTokens - 256) * (1.15 - 0.5) / (4096 - 256);

    static double[] Descending(IEnumerable<double> values) => values.OrderByDescending(v => v).ToArray();
    static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>Standard normal by Box–Muller (System.Random has no normal draw).</summary>
    static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
