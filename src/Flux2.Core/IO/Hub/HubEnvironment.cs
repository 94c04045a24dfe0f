namespace Flux2.IO.Hub;

/// <summary>The environment variables and folders the hub code reads. Passed in (rather than read from the process
/// directly) so tests can run in parallel with their own HF_HOME, token file and current folder.</summary>
public sealed class HubEnvironment
{
    readonly Func<string, string?> variable;

    public string HomeDirectory { get; }
    public string CurrentDirectory { get; }

    public HubEnvironment(Func<string, string?> variable, string homeDirectory, string currentDirectory)
    {
        this.variable = variable;
        HomeDirectory = homeDirectory;
        CurrentDirectory = currentDirectory;
    }

    /// <summary>The real process environment, home folder and current folder.</summary>
    public static HubEnvironment Process() => new(
        Environment.GetEnvironmentVariable,
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
        Directory.GetCurrentDirectory());

    /// <summary>A fixed set of variables; everything else reads as unset.</summary>
    public static HubEnvironment With(IReadOnlyDictionary<string, string> variables, string homeDirectory,
        string currentDirectory) =>
        new(name => variables.TryGetValue(name, out var v) ? v : null, homeDirectory, currentDirectory);

    /// <summary>The variable's value, or null when unset or blank (an empty HF_TOKEN means "no token", as in
    /// huggingface_hub).</summary>
    public string? Get(string name) => variable(name) is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

    /// <summary>A path from a variable, with a leading <c>~</c> expanded the way huggingface_hub's expanduser
    /// does.</summary>
    public string? GetPath(string name) => Get(name) is { } p ? ExpandHome(p) : null;

    /// <summary>$HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (huggingface_hub's
    /// order).</summary>
    public string HfHome =>
        GetPath("HF_HOME")
        ?? Path.Combine(GetPath("XDG_CACHE_HOME") ?? Path.Combine(HomeDirectory, ".cache"), "huggingface");

    string ExpandHome(string path) =>
        path == "~" ? HomeDirectory
        : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(HomeDirectory, path[2..])
        : path;
}
