namespace Flux2.IO.Hub;

/// <summary>A Hugging Face access token and where it was found. <see cref="ToString"/> never shows the value, so the
/// object can be logged safely.</summary>
public sealed class HfToken
{
    public string Value { get; }
    /// <summary>Where the token came from, in words, e.g. "environment variable HF_TOKEN".</summary>
    public string Source { get; }

    public HfToken(string value, string source)
    {
        Value = value;
        Source = source;
    }

    public override string ToString() => $"token from {Source}";

    /// <summary>Looks, in order: env HF_TOKEN, env HUGGING_FACE_HUB_TOKEN, <c>.env</c> in the current folder, then the
    /// token file written by <c>huggingface-cli login</c>. Null when none has a token.</summary>
    public static HfToken? Find(HubEnvironment? env = null)
    {
        env ??= HubEnvironment.Process();
        foreach (var name in new[] { "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN" })
            if (env.Get(name) is { } v) return new HfToken(v, $"environment variable {name}");

        var dotEnv = Path.Combine(env.CurrentDirectory, ".env");
        if (DotEnvFile.Read(dotEnv, "HF_TOKEN") is { } fromDotEnv) return new HfToken(fromDotEnv,
            $".env file {dotEnv}");

        var tokenFile = TokenFilePath(env);
        if (File.Exists(tokenFile) && File.ReadAllText(tokenFile).Trim() is { Length: > 0 } fromFile)
            return new HfToken(fromFile, $"token file {tokenFile}");
        return null;
    }

    /// <summary>$HF_TOKEN_PATH, else $HF_HOME/token (huggingface-cli login writes there).</summary>
    public static string TokenFilePath(HubEnvironment env) => env.GetPath("HF_TOKEN_PATH")
        ?? Path.Combine(env.HfHome, "token");
}
