namespace Flux2.IO.Hub;

/// <summary>Reads one value from a <c>.env</c> file: <c>KEY=value</c> lines, optional <c>export </c> prefix, optional
/// single or double quotes, <c>#</c> comments (whole-line, or after an unquoted value).</summary>
public static class DotEnvFile
{
    public static string? Read(string path, string key)
    {
        if (!File.Exists(path)) return null;
        string? found = null;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line.StartsWith("export ", StringComparison.Ordinal)) line = line[7..].TrimStart();
            var eq = line.IndexOf('=');
            if (eq <= 0 || line[..eq].Trim() != key) continue;
            found = Unquote(line[(eq + 1)..].Trim());   // later lines win, as in shells and python-dotenv
        }
        return string.IsNullOrWhiteSpace(found) ? null : found;
    }

    static string Unquote(string value)
    {
        if (value.Length > 0 && (value[0] == '"' || value[0] == '\''))
        {
            var close = value.IndexOf(value[0], 1);
            return close > 0 ? value[1..close] : value[1..];
        }
        var hash = value.IndexOf(" #", StringComparison.Ordinal);
        return (hash >= 0 ? value[..hash] : value).Trim();
    }
}
