namespace Flux2.Training.Config;

/// <summary>A position in a job file (1-based line and column, as editors show them).</summary>
public sealed record YamlPosition(string File, long Line, long Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>A job file that cannot be used: wrong type, bad value, malformed YAML. The message starts with
/// <c>file:line:column</c> so editors and terminals can jump to it.</summary>
public sealed class JobConfigException(YamlPosition at, string message)
    : Exception($"{at}: {message}")
{
    public YamlPosition At { get; } = at;
    public string Reason { get; } = message;
}

/// <summary>Something in a job file that is accepted but probably not what the user meant (a misspelt key).</summary>
public sealed record JobConfigWarning(YamlPosition At, string Message)
{
    public override string ToString() => $"{At}: warning: {Message}";
}
