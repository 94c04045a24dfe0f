namespace Flux2.Distributed;

/// <summary>
/// The time limit on one collective, checked from the watchdog thread while the training thread waits inside it
/// (an NCCL kernel whose peer is stuck spins forever; torch.distributed's watchdog does the same check). The limit is
/// <c>FLUX2_NCCL_TIMEOUT</c> seconds (default 600): long enough that rank 0's samples and saves between steps, which
/// the other ranks wait out inside the next all-reduce, do not trip it. A peer that dies is caught sooner, by the
/// store's heartbeats.
/// </summary>
public sealed class CollectiveDeadline(TimeSpan timeout)
{
    public const string TimeoutEnv = "FLUX2_NCCL_TIMEOUT";
    readonly object gate = new();
    string? what;
    DateTime since;

    public TimeSpan Timeout { get; } = timeout;

    public static TimeSpan FromEnvironment(double defaultSeconds = 600)
    {
        var v = Environment.GetEnvironmentVariable(TimeoutEnv);
        if (string.IsNullOrEmpty(v)) return TimeSpan.FromSeconds(defaultSeconds);
        return double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : throw new UserError($"{TimeoutEnv} must be a number of seconds > 0, got '{v}'");
    }

    public void Begin(string collective) { lock (gate) { what = collective; since = DateTime.UtcNow; } }
    public void End() { lock (gate) what = null; }

    /// <summary>A message when a collective has run past the limit, else null.</summary>
    public string? Overdue()
    {
        lock (gate)
            return what is not null && DateTime.UtcNow - since > Timeout
                ? $"{what} did not finish within {Timeout.TotalSeconds:F0} s " +
                    $"({TimeoutEnv}); a peer rank is stuck or gone"
                : null;
    }
}
