using System.Reflection;
using System.Text;
using Flux2.IO;

namespace Flux2.Training.Config;

/// <summary>How C# config members are named in YAML: snake_case of the member name, plus any
/// <see cref="YamlAliasAttribute"/> names. Shared by the reader and the printer so they always agree.</summary>
public static class YamlNames
{
    public static string SnakeCase(string pascal)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(pascal[i - 1]) || char.IsDigit(pascal[i - 1])))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>Settable config properties of a section, in declaration order, with their primary YAML name.</summary>
    public static IEnumerable<(string name, PropertyInfo property)> Properties(Type section)
        => section.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                  .Where(p => p.CanWrite && p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
                  .Select(p => (SnakeCase(p.Name), p));

    /// <summary>Every YAML key that selects a property of the section (primary names and aliases).</summary>
    public static Dictionary<string, PropertyInfo> KeyMap(Type section)
    {
        var map = new Dictionary<string, PropertyInfo>(StringComparer.Ordinal);
        foreach (var (name, p) in Properties(section))
        {
            map[name] = p;
            foreach (var alias in p.GetCustomAttribute<YamlAliasAttribute>()?.Names ?? Array.Empty<string>())
                map[alias] = p;
        }
        return map;
    }

    public static IReadOnlyList<string> IgnoredKeys(Type section)
        => section.GetCustomAttribute<IgnoredKeysAttribute>()?.Keys ?? Array.Empty<string>();

    /// <summary>Keys of <paramref name="section"/> that cannot apply to FLUX.2 image LoRAs, with the reason
    /// (<see cref="NotApplicableAttribute"/>).</summary>
    public static IReadOnlyDictionary<string, string> NotApplicableKeys(Type section)
        => section.GetCustomAttributes<NotApplicableAttribute>()
            .SelectMany(a => a.Keys.Select(k => (k, a.Reason))).ToDictionary(x => x.k, x => x.Reason);

    /// <summary>Accepted spellings of each enum member (case-insensitive): snake_case name and aliases.</summary>
    public static IEnumerable<(string name, object value)> EnumNames(Type enumType)
    {
        foreach (var f in enumType.GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var value = f.GetValue(null)!;
            yield return (SnakeCase(f.Name), value);
            foreach (var alias in f.GetCustomAttribute<YamlAliasAttribute>()?.Names ?? Array.Empty<string>()) yield
                return (alias, value);
        }
    }

    public static string EnumName(object value) => SnakeCase(value.ToString()!);
}
