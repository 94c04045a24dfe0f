namespace Flux2.Training.Config;

/// <summary>A key that is bound (so the out-of-memory advice can see its value) but that the trainer does not act on
/// yet; the reader still lists it among the keys "read but not used", so nobody believes it took effect.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class AdviceOnlyAttribute : Attribute;
