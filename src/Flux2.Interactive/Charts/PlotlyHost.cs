using System.Reflection;
using System.Runtime.Loader;

namespace Flux2.Interactive.Charts;

/// <summary>
/// Loads the Plotly.NET helper (Flux2.Interactive.Plotly.dll) from the private <c>plotly/</c> folder next to this
/// assembly into its own <see cref="AssemblyLoadContext"/>, so that its FSharp.Core 10.1 lives beside the notebook
/// kernel's FSharp.Core 10.0 (Plotly.NET 6.0.0 needs 10.1 and throws in the kernel's context). Only strings cross: a
/// chart spec as JSON in, HTML out.
/// </summary>
static class PlotlyHost
{
    public const string FolderName = "plotly";
    const string HelperAssembly = "Flux2.Interactive.Plotly";
    static readonly Lazy<Type> Renderer = new(LoadRenderer);

    /// <summary>The private folder: <c>&lt;folder of Flux2.Interactive.dll&gt;/plotly</c>.</summary>
    public static string Folder =>
        Path.Combine(Path.GetDirectoryName(typeof(PlotlyHost).Assembly.Location)!, FolderName);

    public static string Render(string specJson) => (string)Invoke("Render", specJson);

    public static string PlotlyJs() => (string)Invoke("PlotlyJs");

    public static string PlotlyJsVersion() => (string)Invoke("PlotlyJsVersion");

    static object Invoke(string method, params object[] args)
    {
        var m = Renderer.Value.GetMethod(method, BindingFlags.Public | BindingFlags.Static)
                ?? throw new MissingMethodException(HelperAssembly, method);
        try { return m.Invoke(null, args)!; }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    static Type LoadRenderer()
    {
        var path = Path.Combine(Folder, HelperAssembly + ".dll");
        if (!File.Exists(path))
            throw new FileNotFoundException($"the chart helper {path} is missing; build src/Flux2.Interactive (its " +
                $"PublishPlotlyHelper target puts it there)", path);
        var context = new PrivateFolderLoadContext(Folder);
        return context.LoadFromAssemblyPath(path).GetType($"{HelperAssembly}.ChartRenderer", throwOnError: true)!;
    }

    /// <summary>Resolves an assembly to the private folder's copy when there is one, else defers to the default context
    /// (null): the framework and anything the helper does not ship come from the host.</summary>
    sealed class PrivateFolderLoadContext(string folder) : AssemblyLoadContext("Flux2.Interactive.Plotly",
        isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName name)
        {
            var candidate = Path.Combine(folder, name.Name + ".dll");
            return File.Exists(candidate) ? LoadFromAssemblyPath(candidate) : null;
        }
    }
}
