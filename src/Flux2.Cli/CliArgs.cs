namespace Flux2.Cli;

/// <summary>Minimal parser: positionals plus <c>--name value</c> / <c>--flag</c>. Every option a command reads must be
/// declared through <see cref="Get"/>/<see cref="Flag"/>; leftovers are reported by
/// <see cref="EnsureAllUsed"/>.</summary>
public sealed class CliArgs
{
    readonly Dictionary<string, string?> options = new();
    readonly HashSet<string> used = new();
    readonly List<(string? option, string[] tokens)> given = new();   // the command line as typed, for Without
    public List<string> Positionals { get; } = new();
    public string Command { get; }

    public CliArgs(string command, IEnumerable<string> args)
    {
        Command = command;
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--")) { Positionals.Add(a); given.Add((null, [a])); continue; }
            var name = a[2..];
            string? value = null;
            if (name.Contains('=')) { value = name[(name.IndexOf('=') + 1)..]; name = name[..name.IndexOf('=')]; }
            else if (i + 1 < list.Count && !list[i + 1].StartsWith("--")) value = list[++i];
            options[name] = value;
            given.Add((name, value is null || a.Contains('=') ? [a] : [a, value]));
        }
    }

    public string Get(string name, string fallback)
    {
        used.Add(name); return options.TryGetValue(name, out var v) ? v
        ?? throw Missing(name) : fallback;
    }
    public string? Get(string name)
    {
        used.Add(name); return options.TryGetValue(name, out var v) ? v
        ?? throw Missing(name) : null;
    }
    public bool Flag(string name) { used.Add(name); return options.ContainsKey(name); }

    public int Int(string name, int fallback)
    {
        var v = Get(name);
        if (v == null) return fallback;
        return int.TryParse(v, out var n) ? n
            : throw new UserError($"{Command}: --{name} must be an integer, got '{v}'");
    }

    /// <summary>An integer option within [<paramref name="min"/>, <paramref name="max"/>]: sizes, counts and steps
    /// are bounded so a typo fails here, not in an allocation or a loop that never ends.</summary>
    public int Int(string name, int fallback, int min, int max)
    {
        int n = Int(name, fallback);
        return n >= min && n <= max ? n
            : throw new UserError($"{Command}: --{name} must be between {min} and {max}, got {n}");
    }

    /// <summary>A finite number option of at least <paramref name="min"/>.</summary>
    public double Double(string name, double fallback, double min)
    {
        double x = Double(name, fallback);
        return x >= min ? x : throw new UserError($"{Command}: --{name} must be at least {min}, got {x}");
    }

    public double Double(string name, double fallback)
    {
        var v = Get(name);
        if (v == null) return fallback;
        return double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var n) && double.IsFinite(n)
            ? n : throw new UserError($"{Command}: --{name} must be a finite number, got '{v}'");
    }

    /// <summary>The arguments as given, less the named options and their values (a launcher's child command
    /// line).</summary>
    public IReadOnlyList<string> Without(params string[] names)
        => given.Where(g => g.option is null || !names.Contains(g.option)).SelectMany(g => g.tokens).ToList();

    public string Positional(int index, string what) =>
        index < Positionals.Count ? Positionals[index]
            : throw new UserError($"{Command}: missing {what}. Run ./flux2 help {Command}");

    public void EnsureAllUsed()
    {
        var unknown = options.Keys.Where(k => !used.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new UserError($"{Command}: unknown option(s) {string.Join(", ", unknown.Select(u => "--" + u))}; " +
                $"known: {string.Join(", ", used.Select(u => "--" + u))}");
    }

    UserError Missing(string name) => new($"{Command}: --{name} needs a value");
}
