using System.Globalization;

namespace Flux2.Distributed;

/// <summary>
/// This process's place in a data-parallel job: global <paramref name="Rank"/> of <paramref name="WorldSize"/>, the GPU
/// it drives (<c>cuda:LocalRank</c>), and where rank 0's rendezvous store listens. Read from the torchrun-style
/// variables RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT that <see cref="LocalLauncher"/> sets for each
/// child.
/// </summary>
public sealed record ProcessGroup(int Rank, int WorldSize, int LocalRank, string MasterAddr, int MasterPort)
{
    public bool IsMain => Rank == 0;

    /// <summary>The group described by the environment, or null when WORLD_SIZE is unset or 1 (a single
    /// process).</summary>
    public static ProcessGroup? FromEnvironment(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (env("WORLD_SIZE") is not { Length: > 0 } ws) return null;
        int world = Parse(env, "WORLD_SIZE", ws);
        if (world < 1) throw new ArgumentException($"WORLD_SIZE must be >= 1, got {world}");
        if (world == 1) return null;
        int rank = Parse(env, "RANK", env("RANK") ?? throw Missing("RANK"));
        if (rank < 0 || rank >= world)
            throw new ArgumentException($"RANK {rank} is outside 0..{world - 1} (WORLD_SIZE {world})");
        int local = env("LOCAL_RANK") is { Length: > 0 } lr ? Parse(env, "LOCAL_RANK", lr) : rank;
        var addr = env("MASTER_ADDR") is { Length: > 0 } a ? a : throw Missing("MASTER_ADDR");
        int port = Parse(env, "MASTER_PORT", env("MASTER_PORT") ?? throw Missing("MASTER_PORT"));
        if (port is < 1 or > 65535)
            throw new ArgumentException($"MASTER_PORT must be a TCP port (1..65535), got {port}");
        return new ProcessGroup(rank, world, local, addr, port);
    }

    static int Parse(Func<string, string?> env, string name, string value)
        => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
            : throw new ArgumentException($"{name} must be a whole number, got '{value}'");

    static ArgumentException Missing(string name)
        => new($"WORLD_SIZE is set but {name} is not: a data-parallel rank needs RANK, WORLD_SIZE, LOCAL_RANK, " +
            "MASTER_ADDR and MASTER_PORT (./flux2 train --gpus N sets them; see docs/multi-gpu.md)");

    public override string ToString() =>
        $"rank {Rank}/{WorldSize} (local {LocalRank}), store {MasterAddr}:{MasterPort}";
}
