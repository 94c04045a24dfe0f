using System.Net;
using System.Net.Http.Headers;

namespace Flux2.IO.Hub;

/// <summary>HTTP to the hub with redirects followed by hand, so that the token is sent only to the hub's own host:
/// the CDN a file redirects to must never receive it (HttpClient's automatic redirects are off).</summary>
internal sealed class HubHttp : IDisposable
{
    const int MaxRedirects = 10;
    readonly HttpClient client;
    readonly HfToken? token;

    public Uri Endpoint { get; }

    public HubHttp(Uri endpoint, HfToken? token)
    {
        Endpoint = endpoint;
        this.token = token;
        client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,   // sizes and ranges are in bytes of the file itself
        });
        client.DefaultRequestHeaders.UserAgent.ParseAdd("flux2notebooks/1.0");
    }

    /// <summary>One request, no redirects followed. The token goes along only when the URI is on the hub's
    /// host.</summary>
    public Task<HttpResponseMessage> SendOnceAsync(HttpMethod method, Uri uri, long rangeFrom, CancellationToken ct)
    {
        var request = new HttpRequestMessage(method, uri);
        if (token != null && IsHubHost(uri)) request.Headers.Authorization =
            new AuthenticationHeaderValue("Bearer", token.Value);
        if (rangeFrom > 0) request.Headers.Range = new RangeHeaderValue(rangeFrom, null);
        return client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    /// <summary>A request with 301/302/303/307/308 followed (body not read: the caller streams it).</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, long rangeFrom, CancellationToken ct)
    {
        for (var hop = 0; ; hop++)
        {
            var response = await SendOnceAsync(method, uri, rangeFrom, ct);
            if (!IsRedirect(response) || response.Headers.Location is null) return response;
            if (hop == MaxRedirects) throw new HubException($"Too many redirects from {Endpoint} (last: {uri}).");
            uri = new Uri(uri, response.Headers.Location);
            response.Dispose();
        }
    }

    public bool IsHubHost(Uri uri) =>
        Uri.Compare(uri, Endpoint, UriComponents.SchemeAndServer, UriFormat.SafeUnescaped,
            StringComparison.OrdinalIgnoreCase) == 0;

    public static bool IsRedirect(HttpResponseMessage r) => (int)r.StatusCode is 301 or 302 or 303 or 307 or 308;

    public void Dispose() => client.Dispose();
}
