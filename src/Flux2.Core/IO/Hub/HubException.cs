namespace Flux2.IO.Hub;

/// <summary>Any failure talking to the hub or using its cache; the message is meant to be shown to the user as
/// is.</summary>
public class HubException : Exception
{
    public HubException(string message, Exception? inner = null) : base(message, inner) { }
}
