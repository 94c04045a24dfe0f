using System.Text;
using System.Text.RegularExpressions;

namespace Flux2.IO.Hub;

/// <summary>The allow-pattern filter of <c>huggingface-cli download --include</c>: fnmatch globs where <c>*</c> also
/// crosses folders (so <c>*.json</c> matches <c>vae/config.json</c>), and a pattern ending in <c>/</c> means the whole
/// folder.</summary>
public static class HubGlob
{
    /// <summary>True when no patterns are given, or when any pattern matches the path.</summary>
    public static bool Allows(string path, IReadOnlyCollection<string>? patterns) =>
        patterns is null || patterns.Count == 0 || patterns.Any(p => Matches(path, p));

    public static bool Matches(string path, string pattern)
    {
        if (pattern.EndsWith('/')) pattern += "*";
        return Regex.IsMatch(path, ToRegex(pattern), RegexOptions.CultureInvariant);
    }

    static string ToRegex(string glob)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            var close = c == '[' ? glob.IndexOf(']', i + 1) : -1;
            if (c == '*') sb.Append(".*");
            else if (c == '?') sb.Append('.');
            else if (close > i + 1)
            {
                var set = glob[(i + 1)..close];
                sb.Append('[').Append(set[0] == '!' ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                i = close;
            }
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return sb.Append('$').ToString();
    }
}
