using System.Reflection;
using Flux2.IO;

namespace Flux2.Training.Config;

/// <summary>
/// "Did you mean" for an unknown key. A typo usually sits in the right section, but a correct key put in the wrong
/// section (<c>lr</c> under <c>datasets</c>, <c>linear</c> under <c>train</c>) is just as common, so every section of
/// the job is searched and a key elsewhere wins when it is strictly closer than the best key of the current section.
/// </summary>
public static class KeySuggestion
{
    static readonly Lazy<IReadOnlyList<(string key, string section)>> AllKeys =
        new(() => Collect(typeof(JobFile), "").ToList());

    /// <summary>The hint text ("; did you mean 'x'?" or "; did you mean 'x' (in 'config.process[0].train')?"), or
    /// "".</summary>
    public static string Hint(string key, IEnumerable<string> sectionKeys, string sectionPath)
    {
        var local = EditDistance.Nearest(key, sectionKeys);
        int localDistance = local is null ? int.MaxValue : EditDistance.Between(key, local);
        var elsewhere = AllKeys.Value.Where(k => k.section != NormalizeSection(sectionPath))
            .Select(k => (k.key, k.section, d: EditDistance.Between(key, k.key)))
            .OrderBy(k => k.d).ThenBy(k => k.section.Length).FirstOrDefault();
        if (elsewhere.key is not null && elsewhere.d < localDistance)
            return $"; did you mean '{elsewhere.key}' (a key of '{elsewhere.section}')?";
        return local is null ? "" : $"; did you mean '{local}'?";
    }

    /// <summary>Section paths with list indices written as [0], as the reader reports them for process[0].</summary>
    static string NormalizeSection(string path) =>
        System.Text.RegularExpressions.Regex.Replace(path, @"\[\d+\]", "[0]");

    static IEnumerable<(string key, string section)> Collect(Type section, string path)
    {
        foreach (var (name, property) in YamlNames.KeyMap(section).Select(kv => (kv.Key, kv.Value)))
            yield return (name, path);
        foreach (var ignored in YamlNames.IgnoredKeys(section)) yield return (ignored, path);
        foreach (var key in YamlNames.NotApplicableKeys(section).Keys) yield return (key, path);
        foreach (var (name, property) in YamlNames.Properties(section))
        {
            var type = property.PropertyType;
            bool isList = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>);
            var inner = isList ? type.GetGenericArguments()[0] : type;
            if (!inner.IsClass || inner == typeof(string) || inner.IsGenericType) continue;
            var child = (path.Length == 0 ? name : $"{path}.{name}") + (isList ? "[0]" : "");
            foreach (var k in Collect(inner, child)) yield return k;
        }
    }
}
