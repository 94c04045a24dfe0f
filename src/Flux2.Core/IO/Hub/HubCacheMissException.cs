namespace Flux2.IO.Hub;

/// <summary>A repo id was given as a model path but the local Hugging Face cache does not hold it.</summary>
public sealed class HubCacheMissException : HubException
{
    public HubCacheMissException(string repoId, string revision, string cacheRoot)
        : base($"{repoId} (revision {revision}) is not in the Hugging Face cache at {cacheRoot}.\n" +
               $"Download it first with: ./flux2 download {repoId}" + (revision == "main" ? ""
                   : $" --revision {revision}"))
    { }
}
