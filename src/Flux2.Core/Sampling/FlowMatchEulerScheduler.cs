using Flux2.IO;

namespace Flux2.Sampling;

/// <summary>
/// FLUX.2's sampler schedule (diffusers <c>FlowMatchEulerDiscreteScheduler</c> with dynamic exponential shifting and
/// the pipeline's empirical mu; docs/flux2-model.md §6.1-6.2). Sigmas run from 1 (noise) towards 0 (image);
/// x_t = (1 − σ)·x0 + σ·ε and the model predicts v ≈ ε − x0, so an Euler step is x += (σ_next − σ)·v.
/// </summary>
public sealed record FlowMatchEulerScheduler
{
    public int NumTrainTimesteps { get; init; } = 1000;
    public bool UseDynamicShifting { get; init; } = true;
    public string TimeShiftType { get; init; } = "exponential";
    public double Shift { get; init; } = 3.0;

    /// <summary>mu as a function of image tokens and steps, fitted by BFL (docs/flux2-model.md §6.2; note the jump at
    /// 4300 tokens, kept because the reference has it).</summary>
    public static double EmpiricalMu(int imageTokens, int steps)
    {
        const double a1 = 8.73809524e-05, b1 = 1.89833333, a2 = 0.00016927, b2 = 0.45666666;
        if (imageTokens > 4300) return a2 * imageTokens + b2;
        double m200 = a2 * imageTokens + b2, m10 = a1 * imageTokens + b1;
        double a = (m200 - m10) / 190.0, b = m200 - 200.0 * a;
        return a * steps + b;
    }

    /// <summary>Sampling sigmas (steps + 1 values, the last 0) for an image of <paramref name="imageTokens"/>
    /// tokens.</summary>
    public float[] Sigmas(int steps, int imageTokens)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps,
            "at least one sampling step is needed");
        double mu = EmpiricalMu(imageTokens, steps);
        var sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++)
        {
            // linspace(1, 1/N, N), as the FLUX.2 pipeline passes them
            double s = steps == 1 ? 1.0 : 1.0 + i * (1.0 / steps - 1.0) / (steps - 1);
            sigmas[i] = (float)ShiftSigma(s, mu);
        }
        sigmas[steps] = 0f;
        return sigmas;
    }

    /// <summary>Model timesteps for the same schedule: σ · num_train_timesteps (the model gets σ; it scales by 1000
    /// itself).</summary>
    public float[] Timesteps(int steps, int imageTokens) =>
        Sigmas(steps, imageTokens).Take(steps).Select(s => s * NumTrainTimesteps).ToArray();

    double ShiftSigma(double sigma, double mu)
    {
        if (!UseDynamicShifting) return Shift * sigma / (1 + (Shift - 1) * sigma);
        return TimeShiftType == "linear"
            ? mu / (mu + (1 / sigma - 1))
            : Math.Exp(mu) / (Math.Exp(mu) + (1 / sigma - 1));
    }

    /// <summary>Reads a diffusers <c>scheduler/scheduler_config.json</c>; absent keys keep the FLUX.2
    /// defaults.</summary>
    public static FlowMatchEulerScheduler FromJson(string path) => FromJson(ConfigJson.Load(path));

    public static FlowMatchEulerScheduler FromJson(ConfigJson r)
    {
        var s = new FlowMatchEulerScheduler
        {
            NumTrainTimesteps = r.Int("num_train_timesteps", 1000),
            UseDynamicShifting = r.Bool("use_dynamic_shifting", true),
            TimeShiftType = r.String("time_shift_type", "exponential"),
            Shift = r.Double("shift", 3.0),
        };
        if (s.TimeShiftType is not ("exponential" or "linear"))
            throw r.Error("time_shift_type", $"must be \"exponential\" or \"linear\", found \"{s.TimeShiftType}\"");
        foreach (var unsupported in new[] { "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
            "invert_sigmas", "stochastic_sampling" })
            if (r.Bool(unsupported, false))
                throw r.Error(unsupported, "true is not supported by FLUX.2 sampling here; set it to false");
        return s;
    }
}
