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

/// <summary>ai-toolkit keys of a section that cannot apply to a FLUX.2 image LoRA (video frame counts, other models'
/// switches, the UI's own database ...): accepted silently and listed once, with <see cref="Reason"/>, when the config
/// is printed. A key set to null is not listed.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class NotApplicableAttribute(string reason, params string[] keys) : Attribute
{
    public string Reason { get; } = reason;
    public string[] Keys { get; } = keys;
}

/// <summary>Inclusive bounds for a numeric key; a value outside fails with the file position.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RangeAttribute(double min, double max = double.MaxValue) : Attribute
{
    public double Min { get; } = min;
    public double Max { get; } = max;
}
