using Flux2.IO.Hub;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 download &lt;owner/repo&gt;</c>: into the standard Hugging Face cache, resumable.</summary>
public static class DownloadCommand
{
    public const string Help = """
        ./flux2 download <owner/repo> [--revision main] [--include "transformer/*,vae/*"]
          Downloads into the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub); resumes
          partial files. Token: HF_TOKEN, a .env file, or the HF token file (environment.md). Gated repos such as
          black-forest-labs/FLUX.2-dev need the licence accepted on the model page first.
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var repo = args.Positional(0, "a repo id such as black-forest-labs/FLUX.2-dev");
        var revision = args.Get("revision");
        var include = args.Get("include")?.Split(',', StringSplitOptions.RemoveEmptyEntries |
            StringSplitOptions.TrimEntries) ?? Array.Empty<string>();
        args.EnsureAllUsed();
        if (!HfCache.IsRepoId(repo))
            throw new UserError($"download: '{repo}' is not a repo id (expected owner/name, e.g. " +
                $"black-forest-labs/FLUX.2-dev)");
        return HubCommands.Download(repo, revision, include, o);
    }
}
