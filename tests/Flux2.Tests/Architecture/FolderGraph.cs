using System.Text;
using System.Text.RegularExpressions;

namespace Flux2.Tests.Architecture;

/// <summary>One source file: the layer it belongs to (a top folder of src/Flux2.Core, or a project above it), its path
/// for messages, and its text.</summary>
public sealed record SourceFile(string Layer, string Path, string Text);

/// <summary>A reference from one layer to another, with the file that makes it.</summary>
public sealed record LayerEdge(string From, string To, string File);

/// <summary>
/// The dependency graph between layers, read from C# text: <c>using Flux2.X…</c> (plain, <c>static</c>, aliases),
/// fully-qualified <c>Flux2.X.…</c> names in code, and partially-qualified <c>X.Type</c> names that resolve to
/// <c>Flux2.X</c> (not shadowed by a nested namespace of the file's own). Comments and string literals are ignored.
/// </summary>
public static partial class FolderGraph
{
    /// <summary>Every cross-layer reference in <paramref name="files"/>, one per (from, to, file).</summary>
    public static IReadOnlyList<LayerEdge> Edges(IReadOnlyList<SourceFile> files, IReadOnlyCollection<string> layers)
    {
        var code = files.ToDictionary(f => f.Path, f => CodeOnly(f.Text));
        var namespaces = new HashSet<string>();
        var typesByLayer = layers.ToDictionary(l => l, _ => new HashSet<string>());
        foreach (var f in files)
        {
            foreach (Match m in NamespaceDeclaration().Matches(code[f.Path]))
            {
                var parts = m.Groups[1].Value.Split('.');
                for (int k = 1; k <= parts.Length; k++) namespaces.Add(string.Join('.', parts[..k]));
                // A sub-namespace of Flux2.X is reachable as X.Sub too.
                if (parts.Length > 2 && parts[0] == "Flux2" && typesByLayer.TryGetValue(parts[1], out var subs))
                    subs.Add(parts[2]);
            }
            if (typesByLayer.TryGetValue(f.Layer, out var types))
                foreach (Match m in TypeDeclaration().Matches(code[f.Path])) types.Add(m.Groups[1].Value);
        }

        var edges = new HashSet<LayerEdge>();
        foreach (var f in files)
        {
            var text = code[f.Path];
            foreach (Match m in FullyQualified().Matches(text))
                Add(m.Groups[1].Value);
            var own = NamespaceDeclaration().Match(text) is { Success: true } ns ? ns.Groups[1].Value.Split('.') : [];
            foreach (Match m in PartiallyQualified().Matches(text))
            {
                string target = m.Groups[1].Value, member = m.Groups[2].Value;
                if (!typesByLayer.TryGetValue(target, out var known) || !known.Contains(member)) continue;
                // Inside namespace Flux2.A.B, "X.Y" means Flux2.A.B.X or Flux2.A.X first when such a namespace exists.
                bool shadowed = Enumerable.Range(2, Math.Max(0, own.Length - 1))
                    .Any(k => namespaces.Contains(string.Join('.', own[..k]) + "." + target));
                if (!shadowed) Add(target);
            }

            void Add(string target)
            {
                if (target != f.Layer && layers.Contains(target)) edges.Add(new LayerEdge(f.Layer, target, f.Path));
            }
        }
        return edges.OrderBy(e => e.From).ThenBy(e => e.To).ThenBy(e => e.File, StringComparer.Ordinal).ToList();
    }

    /// <summary>What breaks <paramref name="order"/> (lowest layer first; a layer may depend only on layers before it):
    /// each cycle with the files that make it, each edge that points to a later layer, and each layer missing from the
    /// order. Empty when the graph is a DAG that reads in that order.</summary>
    public static IReadOnlyList<string> Violations(IReadOnlyList<LayerEdge> edges, IReadOnlyList<string> order,
                                                  IEnumerable<string> layersPresent)
    {
        var problems = new List<string>();
        foreach (var layer in layersPresent.Distinct().Where(l => !order.Contains(l)).Order())
            problems.Add($"folder '{layer}' is not in the declared order");

        var layerEdges = edges.Select(e => (e.From, e.To)).Distinct().ToList();
        foreach (var cycle in Cycles(layerEdges))
        {
            var inCycle = edges.Where(e => cycle.Contains(e.From) && cycle.Contains(e.To))
                .Select(e => $"{e.From} -> {e.To} ({e.File})");
            problems.Add($"cycle between {string.Join(", ", cycle)}: {string.Join("; ", inCycle)}");
        }

        foreach (var e in edges)
        {
            int from = IndexOf(order, e.From), to = IndexOf(order, e.To);
            if (from >= 0 && to >= 0 && to > from)
                problems.Add($"{e.File}: {e.From} -> {e.To} points up the order ({e.To} comes after {e.From})");
        }
        return problems;
    }

    static int IndexOf(IReadOnlyList<string> order, string layer)
    {
        for (int i = 0; i < order.Count; i++) if (order[i] == layer) return i;
        return -1;
    }

    /// <summary>The strongly connected components with more than one layer (Tarjan), each sorted.</summary>
    static List<List<string>> Cycles(List<(string From, string To)> edges)
    {
        var next = edges.GroupBy(e => e.From).ToDictionary(g => g.Key, g => g.Select(e => e.To).ToList());
        var nodes = edges.SelectMany(e => new[] { e.From, e.To }).Distinct().Order().ToList();
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<List<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v); onStack.Add(v);
            foreach (var w in next.GetValueOrDefault(v) ?? [])
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); component.Add(x); } while (x != v);
            if (component.Count > 1) result.Add(component.Order().ToList());
        }
        foreach (var n in nodes) if (!index.ContainsKey(n)) Visit(n);
        return result;
    }

    /// <summary>The text with comments and the contents of string and char literals blanked out (line breaks kept).
    /// Interpolation holes count as string text.</summary>
    public static string CodeOnly(string text)
    {
        var sb = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            char n = i + 1 < text.Length ? text[i + 1] : '\0';
            if (c == '/' && n == '/')
            {
                while (i < text.Length && text[i] != '\n') i++;
            }
            else if (c == '/' && n == '*')
            {
                int end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                end = end < 0 ? text.Length : end + 2;
                Blank(sb, text, i, end);
                i = end;
            }
            else if (c == '"' && i + 2 < text.Length && n == '"' && text[i + 2] == '"')
            {
                int end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                end = end < 0 ? text.Length : end + 3;
                Blank(sb, text, i, end);
                i = end;
            }
            else if (c == '"' || c == '\'')
            {
                bool verbatim = i > 0 && (text[i - 1] == '@' || (i > 1 && text[i - 1] == '$' && text[i - 2] == '@'));
                int j = i + 1;
                while (j < text.Length && text[j] != c && (verbatim || text[j] != '\n'))
                {
                    if (text[j] == '\\' && !verbatim) j++;
                    else if (verbatim && text[j] == c && j + 1 < text.Length && text[j + 1] == c) j++;
                    j++;
                }
                j = Math.Min(text.Length, j + 1);
                Blank(sb, text, i, j);
                i = j;
            }
            else { sb.Append(c); i++; }
        }
        return sb.ToString();
    }

    /// <summary>Appends text[start..end) as spaces, keeping its line breaks.</summary>
    static void Blank(StringBuilder sb, string text, int start, int end)
    {
        for (int k = start; k < end; k++) sb.Append(text[k] == '\n' ? '\n' : ' ');
    }

    [GeneratedRegex(@"\bnamespace\s+([A-Za-z_][\w.]*)")]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record)\s+([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"(?<![\w.])Flux2\s*\.\s*([A-Za-z_]\w*)")]
    private static partial Regex FullyQualified();

    [GeneratedRegex(@"(?<![\w.])([A-Z]\w*)\s*\.\s*([A-Z]\w*)")]
    private static partial Regex PartiallyQualified();
}
