using System.Globalization;
using System.Reflection;
using Flux2.IO;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Flux2.Training.Config;

/// <summary>
/// Binds a YAML node tree (YamlDotNet's representation model, which keeps every node's start mark) onto the config
/// records of <see cref="JobFile"/>: snake_case keys, scalars to int/long/double/bool/string/enum, a scalar where a
/// list is expected becomes a one-element list (ai-toolkit accepts <c>resolution: 512</c> and <c>[512, 768]</c>),
/// null keeps the default. Type and range errors throw <see cref="JobConfigException"/> at the node's position;
/// unknown keys become warnings naming the nearest known key; a key marked <see cref="InertKeyAttribute"/> warns
/// with its reason when its value is not one at which it changes nothing.
/// </summary>
public sealed class YamlBinder(string file)
{
    static readonly NullabilityInfoContext Nullability = new();
    public List<JobConfigWarning> Warnings { get; } = new();
    /// <summary>ai-toolkit keys present in the file that this kit does not act on (see
    /// <see cref="IgnoredKeysAttribute"/>).</summary>
    public List<string> IgnoredKeysSeen { get; } = new();
    /// <summary>Keys present in the file (not null) at a value where they change nothing, with the reason
    /// (<see cref="InertKeyAttribute"/>).</summary>
    public List<(string Key, string Reason)> InertKeysSeen { get; } = new();
    /// <summary>Where each bound path was written, for checks that run after binding.</summary>
    public Dictionary<string, YamlPosition> Positions { get; } = new();
    /// <summary>Paths of the keys the file set to a value (not null), as written (an alias keeps its own
    /// name).</summary>
    public HashSet<string> Given { get; } = new();

    public YamlPosition At(YamlNode node) => new(file, node.Start.Line, node.Start.Column);

    public JobConfigException Error(YamlNode node, string message) => new(At(node), message);

    public T BindSection<T>(YamlNode node, string path) where T : new() => (T)BindSection(typeof(T), node, path);

    object BindSection(Type type, YamlNode node, string path)
    {
        Positions[path] = At(node);
        if (node is not YamlMappingNode map)
            throw Error(node, $"'{path}' must be a mapping of keys to values, got {Describe(node)}");
        var section = Activator.CreateInstance(type)!;
        var keys = YamlNames.KeyMap(type);
        var ignored = YamlNames.IgnoredKeys(type);
        var inertKeys = YamlNames.InertKeys(type);
        var inertSeen = new List<(InertKeyAttribute key, YamlNode keyNode, YamlNode value, string path)>();
        var seen = new Dictionary<PropertyInfo, string>();
        foreach (var (keyNode, valueNode) in map.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
                throw Error(keyNode, $"keys in '{path}' must be plain names, got {Describe(keyNode)}");
            var childPath = path.Length == 0 ? key : $"{path}.{key}";
            if (keys.TryGetValue(key, out var property))
            {
                // ai-toolkit's own example sets both gradient_accumulation and its legacy alias: allowed when they
                // agree.
                if (seen.TryGetValue(property, out var earlier) && valueNode is YamlScalarNode s && s.Value != earlier)
                    throw Error(keyNode,
                        $"'{childPath}' = {s.Value} contradicts an earlier alias of it set to {earlier}");
                seen[property] = (valueNode as YamlScalarNode)?.Value ?? "";
                Positions[childPath] = At(valueNode);
                if (IsNull(valueNode))
                {
                    if (IsNullable(property)) property.SetValue(section, null);
                    continue; // null means "default", as in ai-toolkit's Python (key: None)
                }
                var value = Convert(property.PropertyType, valueNode, childPath);
                CheckRange(property, value, valueNode, childPath);
                property.SetValue(section, value);
                Given.Add(childPath);
            }
            else if (inertKeys.TryGetValue(key, out var inert)) inertSeen.Add((inert, keyNode, valueNode, childPath));
            else if (ignored.Contains(key))
            {
                if (!IsNull(valueNode)) IgnoredKeysSeen.Add(childPath); // null: not set
            }
            else
            {
                var hint = KeySuggestion.Hint(key, keys.Keys.Concat(ignored).Concat(inertKeys.Keys), path);
                Warnings.Add(new JobConfigWarning(At(keyNode), $"unknown key '{childPath}' is ignored{hint}"));
            }
        }
        foreach (var (inert, keyNode, value, childPath) in inertSeen)
        {
            if (IsNull(value)) continue;
            var text = InertForm(value);
            if (inert.Inert.Contains("*") || inert.Inert.Contains(text)
                || inert.OnlyWith is { } other && keys[other].GetValue(section) is false)
                InertKeysSeen.Add((childPath, inert.Reason));
            else
                Warnings.Add(new JobConfigWarning(At(keyNode),
                    $"'{childPath}' = {text} is not applied: {inert.Reason}"));
        }
        return section;
    }

    /// <summary>A value as <see cref="InertKeyAttribute.Inert"/> writes it: null (also an empty text), lower-case
    /// words, numbers in shortest form, <c>[a, b]</c>, <c>{k: v}</c>.</summary>
    static string InertForm(YamlNode node) => node switch
    {
        YamlSequenceNode seq => "[" + string.Join(", ", seq.Children.Select(InertForm)) + "]",
        YamlMappingNode map => "{" + string.Join(", ", map.Children.Select(kv => $"{InertForm(kv.Key)}: " +
            InertForm(kv.Value))) + "}",
        YamlScalarNode s when IsNull(s) || s.Value is "" => "null",
        YamlScalarNode { Value: { } v } => v.ToLowerInvariant() switch
        {
            "yes" or "on" or "true" => "true",
            "no" or "off" or "false" => "false",
            var w => double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                ? d.ToString(CultureInfo.InvariantCulture) : w,
        },
        _ => node.ToString(),
    };

    object Convert(Type type, YamlNode node, string path)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(List<>))
        {
            var item = underlying.GetGenericArguments()[0];
            var list = (System.Collections.IList)Activator.CreateInstance(underlying)!;
            if (node is YamlSequenceNode seq)
            {
                int i = 0;
                foreach (var child in seq.Children) list.Add(Convert(item, child, $"{path}[{i++}]"));
            }
            else list.Add(Convert(item, node, $"{path}[0]"));
            return list;
        }
        if (underlying == typeof(Dictionary<string, string>)) return FreeMapping(node, path);
        if (underlying.IsClass && underlying != typeof(string)) return BindSection(underlying, node, path);

        if (node is not YamlScalarNode { Value: { } text })
            throw Error(node, $"'{path}' must be a single value ({TypeWord(underlying)}), got {Describe(node)}");
        var inv = CultureInfo.InvariantCulture;
        if (underlying == typeof(string)) return text;
        if (underlying == typeof(int))
            return int.TryParse(text, NumberStyles.Integer, inv, out var i) ? i
                : throw Error(node, $"'{path}' must be an integer, got '{text}'");
        if (underlying == typeof(long))
            return long.TryParse(text, NumberStyles.Integer, inv, out var l) ? l
                : throw Error(node, $"'{path}' must be an integer, got '{text}'");
        if (underlying == typeof(double))
            return double.TryParse(text, NumberStyles.Float, inv, out var d) && double.IsFinite(d) ? d
                : throw Error(node, $"'{path}' must be a number, got '{text}'");
        if (underlying == typeof(bool))
            return text.ToLowerInvariant() switch
            {
                "true" or "yes" or "on" => true,
                "false" or "no" or "off" => false,
                _ => throw Error(node, $"'{path}' must be true or false, got '{text}'"),
            };
        if (underlying.IsEnum)
        {
            var names = YamlNames.EnumNames(underlying).ToList();
            foreach (var (name, value) in names)
                if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase)) return value;
            var nearest = EditDistance.Nearest(text.ToLowerInvariant(), names.Select(n => n.name));
            throw Error(node,
                $"'{path}' must be one of {string.Join(", ", names.Select(n => n.name).Distinct())}; got '{text}' " +
                $"(nearest: '{nearest}')");
        }
        throw new NotSupportedException($"config type {underlying.Name} has no YAML conversion");
    }

    Dictionary<string, string> FreeMapping(YamlNode node, string path)
    {
        if (node is not YamlMappingNode map)
            throw Error(node, $"'{path}' must be a mapping of keys to values, got {Describe(node)}");
        var result = new Dictionary<string, string>();
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { } key }) throw Error(k, $"keys in '{path}' must be plain names");
            if (v is YamlScalarNode s) result[key] = s.Value ?? "";
            else Warnings.Add(new JobConfigWarning(At(v), $"'{path}.{key}' is not a single value and is ignored"));
        }
        return result;
    }

    void CheckRange(PropertyInfo property, object value, YamlNode node, string path)
    {
        if (property.GetCustomAttribute<RangeAttribute>() is not { } range) return;
        double v = System.Convert.ToDouble(value, CultureInfo.InvariantCulture);
        if (v < range.Min || v > range.Max)
        {
            var bounds = range.Max == double.MaxValue ? $"at least {range.Min}"
                : $"between {range.Min} and {range.Max}";
            throw Error(node, $"'{path}' must be {bounds}, got {value}");
        }
    }

    static bool IsNull(YamlNode node) => node is YamlScalarNode
    {
        Style: ScalarStyle.Plain or ScalarStyle.Any,
        Value: null or "" or "~" or "null" or "Null" or "NULL"
    };

    static bool IsNullable(PropertyInfo p) => Nullable.GetUnderlyingType(p.PropertyType) is not null
        || (!p.PropertyType.IsValueType && Nullability.Create(p).WriteState == NullabilityState.Nullable);

    static string TypeWord(Type t) => t == typeof(string) ? "text" : t == typeof(bool) ? "true/false" : t.IsEnum
        ? "a name" : "a number";

    static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s => $"'{s.Value}'",
        _ => node.NodeType.ToString(),
    };
}
