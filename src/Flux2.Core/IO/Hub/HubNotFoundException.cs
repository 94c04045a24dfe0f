namespace Flux2.IO.Hub;

/// <summary>What the hub could not find.</summary>
public enum HubMissing { Repository, Revision, File }

/// <summary>A 404 from the hub, naming whether the repository, the revision or one file is missing.</summary>
public sealed class HubNotFoundException : HubException
{
    public HubMissing Missing { get; }

    public HubNotFoundException(HubMissing missing, string message) : base(message) => Missing = missing;
}
