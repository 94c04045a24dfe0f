namespace Flux2.IO;

/// <summary>Extra YAML names accepted for a property or enum member (ai-toolkit has several: <c>rank</c> for
/// <c>linear</c>, <c>bf16</c> for <c>bfloat16</c>, ...). The snake_case form of the C# name is always
/// accepted.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false)]
public sealed class YamlAliasAttribute(params string[] names) : Attribute
{
    public string[] Names { get; } = names;
}

/// <summary>ai-toolkit keys of a section that this kit reads without acting on them (quantization, UI flags ...):
/// accepted silently so that a job file from the ai-toolkit UI loads as-is, and listed when the config is
/// printed.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class IgnoredKeysAttribute(params string[] keys) : Attribute
{
    public string[] Keys { get; } = keys;
}

/// <summary>An ai-toolkit key of a section that this kit accepts without acting on it, because at the values in
/// <see cref="Inert"/> ai-toolkit does what this kit does ("*": every value, the key never matters for a FLUX.2 LoRA
/// job, e.g. a video or another model's switch). A key set at an inert value is listed once, with
/// <see cref="Reason"/>, when the config is printed; any other value is reported as a warning with the reason (null
/// means not set: neither). With <see cref="OnlyWith"/> set, the
/// value matters only while that boolean key of the same section is true, as in ai-toolkit. Values compare as the
/// reader writes them: <c>null</c>, <c>true</c>, numbers in shortest form, <c>[a, b]</c>, <c>{k: v}</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class InertKeyAttribute(string key, string inert, string reason) : Attribute
{
    public string Key { get; } = key;
    /// <summary>The inert values, separated by <c>|</c>.</summary>
    public IReadOnlyList<string> Inert { get; } = inert.Split('|');
    public string Reason { get; } = reason;
    public string? OnlyWith { get; set; }
}

/// <summary>Inclusive bounds for a numeric key; a value outside fails with the file position.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RangeAttribute(double min, double max = double.MaxValue) : Attribute
{
    public double Min { get; } = min;
    public double Max { get; } = max;
}
