namespace Flux2.Tests.Hub;

/// <summary>The repos most hub tests use: a small git file, a nested JSON and a 1 MiB LFS weight file.</summary>
public static class HubTestRepos
{
    public const string Public = "acme/tiny-flux";
    public const string Gated = "acme/gated-flux";
    public const string GateToken = "hf_goodtoken";

    public static FakeHub Start()
    {
        var hub = new FakeHub();
        hub.Repos[Public] = Build(null, seed: 1);
        hub.Repos[Gated] = Build(GateToken, seed: 2);
        return hub;
    }

    static FakeRepo Build(string? gate, int seed)
    {
        var repo = new FakeRepo { GateToken = gate };
        repo.Files["README.md"] = "# tiny flux\n"u8.ToArray();
        repo.Files["vae/config.json"] = """{"latent_channels": 32}"""u8.ToArray();
        repo.Files["transformer/model.safetensors"] = FakeRepo.RandomBytes(1 << 20, seed);
        repo.Lfs.Add("transformer/model.safetensors");
        return repo;
    }
}
