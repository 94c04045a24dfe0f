namespace Flux2.Distributed;

/// <summary>
/// Which ranks this host starts: <paramref name="ProcsPerNode"/> processes (one per GPU) on node
/// <paramref name="NodeRank"/> of <paramref name="Nodes"/>; global rank = NodeRank × ProcsPerNode + local rank, and
/// rank 0 (on node 0) hosts the rendezvous store at <paramref name="MasterAddr"/>:<paramref name="MasterPort"/>.
/// </summary>
public sealed record LaunchPlan(int ProcsPerNode, int Nodes = 1, int NodeRank = 0, string MasterAddr = "127.0.0.1",
    int MasterPort = 29500)
{
    public int WorldSize => ProcsPerNode * Nodes;

    public int GlobalRank(int localRank) => NodeRank * ProcsPerNode + localRank;

    /// <summary>The torchrun-style environment of one child (read back by
    /// <see cref="ProcessGroup.FromEnvironment"/>).</summary>
    public IReadOnlyDictionary<string, string> Environment(int localRank) => new Dictionary<string, string>
    {
        ["RANK"] = GlobalRank(localRank).ToString(),
        ["WORLD_SIZE"] = WorldSize.ToString(),
        ["LOCAL_RANK"] = localRank.ToString(),
        ["LOCAL_WORLD_SIZE"] = ProcsPerNode.ToString(),
        ["NODE_RANK"] = NodeRank.ToString(),
        ["MASTER_ADDR"] = MasterAddr,
        ["MASTER_PORT"] = MasterPort.ToString(),
    };

    public void Validate()
    {
        if (ProcsPerNode < 1) throw new ArgumentException($"--gpus must be >= 1, got {ProcsPerNode}");
        if (Nodes < 1) throw new ArgumentException($"--nnodes must be >= 1, got {Nodes}");
        if (NodeRank < 0 || NodeRank >= Nodes)
            throw new ArgumentException($"--node-rank must be in 0..{Nodes - 1}, got {NodeRank}");
        if (MasterPort is < 1 or > 65535)
            throw new ArgumentException($"--master-port must be a TCP port (1..65535), got {MasterPort}");
        if (string.IsNullOrWhiteSpace(MasterAddr)) throw new ArgumentException("--master-addr must name rank 0's host");
    }

    /// <summary>A free TCP port on this host (single-host jobs pick one so that two jobs never collide).</summary>
    public static int FreePort()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
