namespace Flux2.IO.Hub;

/// <summary>The hub refused access (401/403): a gated repo whose licence is not accepted, a private repo, or a missing
/// or invalid token. The message walks the user through the one-time fix (guide section 7.1).</summary>
public sealed class HubAccessException : HubException
{
    public string RepoId { get; }
    public int StatusCode { get; }

    public HubAccessException(string repoId, int statusCode, HfToken? token, string? hubMessage)
        : base(Explain(repoId, statusCode, token, hubMessage))
    {
        RepoId = repoId;
        StatusCode = statusCode;
    }

    static string Explain(string repoId, int statusCode, HfToken? token, string? hubMessage)
    {
        var tokenLine = token is null
            ? "No Hugging Face token was found (looked at HF_TOKEN, HUGGING_FACE_HUB_TOKEN, ./.env and the " +
                "huggingface-cli token file)."
            : $"A token was found ({token.Source}) but the hub did not accept it for this repo: the licence may not " +
                "be accepted with that account yet, or the token may be invalid or lack read access.";
        var hub = string.IsNullOrWhiteSpace(hubMessage) ? "" : $" The hub said: {hubMessage.Trim()}";
        return
            $"Access to {repoId} was refused (HTTP {statusCode}). It is a gated or private repository.{hub}\n" +
            tokenLine + "\n" +
            "To fix it (once):\n" +
            $"  1. Log in and open https://huggingface.co/{repoId} and accept the licence (\"Agree and access " +
            $"repository\").\n" +
            "  2. Create a token with the Read role at https://huggingface.co/settings/tokens\n" +
            "  3. Make it available: export HF_TOKEN=hf_...   or add the line HF_TOKEN=hf_... to a .env file in this " +
            "folder,\n" +
            "     or run: huggingface-cli login\n" +
            "  4. Run the download again; it resumes where it stopped.";
    }
}
