namespace Flux2.Training.Objective;

/// <summary>
/// The loss weight of <c>timestep_type: weighted</c> as a function of t (docs/ai-toolkit-compat.md §2.3,
/// "Weighted-schedule weights"): a bell peaking near t ≈ 0.88 and falling off towards t = 0. Built here by linear
/// interpolation of the 21 published sample points (t = 1.00, 0.95, ..., 0.05, ≈0) into a 1000-entry table, then
/// scaled to mean 1 as ai-toolkit's table is, so the weighting reshapes the loss across t without changing its overall
/// size.
/// </summary>
public static class TimestepWeights
{
    // t = 1.00, 0.95, ..., 0.05, 0 (descending), from the reference table.
    static readonly double[] Points = { 0.906, 1.375, 1.507, 1.507, 1.441, 1.355, 1.264, 1.172, 1.083, 1.000, 0.925,
                                        0.860, 0.805, 0.762, 0.731, 0.715, 0.716, 0.729, 0.716, 0.582, 0.447 };

    static readonly double[] Table = Build();

    /// <summary>Weight for t in [0, 1].</summary>
    public static double At(double t)
    {
        int i = (int)Math.Round(Math.Clamp(t, 0, 1) * (Table.Length - 1));
        return Table[i];
    }

    static double[] Build()
    {
        var table = new double[1000];
        for (int i = 0; i < table.Length; i++)
        {
            double t = (double)i / (table.Length - 1);
            double pos = (1 - t) / 0.05;               // 0 at t = 1, 20 at t = 0
            int k = Math.Min((int)Math.Floor(pos), Points.Length - 2);
            double f = pos - k;
            table[i] = Points[k] * (1 - f) + Points[k + 1] * f;
        }
        double mean = table.Average();
        for (int i = 0; i < table.Length; i++) table[i] /= mean;
        return table;
    }
}
