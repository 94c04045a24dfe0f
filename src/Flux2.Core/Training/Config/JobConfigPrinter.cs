using System.Collections;
using System.Globalization;

namespace Flux2.Training.Config;

/// <summary>Prints the resolved job (every key, defaults included) as <c>path = value</c> lines, so a run's log
/// shows exactly what it trained with (nanoGPT prints its config the same way).</summary>
public static class JobConfigPrinter
{
    public static void Print(LoadedJob loaded, TextWriter o)
    {
        o.WriteLine($"# resolved job config ({loaded.Source})");
        Print(loaded.Job, o);
        foreach (var note in loaded.Notes) o.WriteLine(note);
        foreach (var group in loaded.InertKeys.GroupBy(n => n.Reason))
            o.WriteLine($"# accepted, changes nothing here ({group.Key}): " +
                string.Join(", ", group.Select(n => n.Key)));
        if (loaded.IgnoredKeys.Count > 0)
            o.WriteLine($"# read but not used by this kit: {string.Join(", ", loaded.IgnoredKeys)}");
        foreach (var w in loaded.Warnings) o.WriteLine(w);
    }

    public static void Print(JobFile job, TextWriter o)
    {
        var lines = new List<(string key, string value)>();
        Walk(job, "", lines);
        var p = job.Process.Network;
        lines.Add(("# lora scale (linear_alpha / linear)", Format(p.Scale)));
        int width = lines.Max(l => l.key.Length);
        foreach (var (key, value) in lines) o.WriteLine($"{key.PadRight(width)} = {value}");
    }

    static void Walk(object section, string path, List<(string, string)> lines)
    {
        foreach (var (name, property) in YamlNames.Properties(section.GetType()))
        {
            var key = path.Length == 0 ? name : $"{path}.{name}";
            var value = property.GetValue(section);
            switch (value)
            {
                case null: lines.Add((key, "null")); break;
                case string or bool or int or long or double or Enum: lines.Add((key, Format(value))); break;
                case IDictionary dict:
                    lines.Add((key,
                               "{" + string.Join(", ", dict.Keys.Cast<object>().Select(k => $"{k}: {dict[k]}")) + "}"));
                    break;
                case IList list when list.Count == 0 || IsScalar(list[0]!):
                    lines.Add((key, "[" + string.Join(", ", list.Cast<object>().Select(Format)) + "]"));
                    break;
                case IList list:
                    for (int i = 0; i < list.Count; i++) Walk(list[i]!, $"{key}[{i}]", lines);
                    break;
                default: Walk(value, key, lines); break;
            }
        }
    }

    static bool IsScalar(object v) => v is string or bool or int or long or double or Enum;

    static string Format(object? v) => v switch
    {
        null => "null",
        string s => s.Length == 0 ? "''" : s,
        bool b => b ? "true" : "false",
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        Enum e => YamlNames.EnumName(e),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}
