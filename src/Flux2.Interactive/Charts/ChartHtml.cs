using System.Text.RegularExpressions;

namespace Flux2.Interactive.Charts;

/// <summary>
/// Chart HTML for notebook outputs, offline, with plotly.js (~3.6 MB) served by the Jupyter server instead of inlined:
/// the first chart of a kernel session writes it into Jupyter's nbextensions folder (<see cref="PlotlyJsFile"/>), and
/// every chart's script loads it from <see cref="PlotlyJsUrlPath"/> when the page has no <c>Plotly</c> yet, then draws.
/// Each output is self-sufficient: it draws after a page reload, also after Clear All Output in the same kernel. No
/// output references a CDN. Every chart also carries its static SVG image (<see cref="ChartSvg"/>), shown until plotly
/// draws the chart: where scripts do not run, or plotly.js cannot be loaded, the image stays.
/// </summary>
public static partial class ChartHtml
{
    static readonly object Gate = new();
    static bool plotlyJsWritten;

    /// <summary>The plotly.js version Plotly.NET ships.</summary>
    public static string PlotlyJsVersion => PlotlyHost.PlotlyJsVersion();

    /// <summary>plotly.js below the Jupyter server's base URL (Jupyter Notebook serves nbextensions/ from the
    /// nbextensions folders of its data paths).</summary>
    public static string PlotlyJsUrlPath => $"nbextensions/flux2/plotly-{PlotlyJsVersion}.min.js";

    /// <summary>Where charts write plotly.js: the nbextensions folder of the user's Jupyter data folder.</summary>
    public static string PlotlyJsFile =>
        Path.Combine(JupyterDataFolder(), "nbextensions", "flux2", $"plotly-{PlotlyJsVersion}.min.js");

    /// <summary>The chart's HTML: its static image, Plotly.NET's chart and the script that draws it.</summary>
    public static string Render(ChartSpec chart)
    {
        WritePlotlyJs();
        return WithStaticImage(chart, PlotlyHost.Render(chart.ToJson()));
    }

    /// <summary>Writes plotly.js to <see cref="PlotlyJsFile"/> unless it holds it already, once per process. Where
    /// the folder cannot be written, says so on stderr: the charts then show their static images.</summary>
    public static void WritePlotlyJs()
    {
        lock (Gate)
        {
            if (plotlyJsWritten) return;
            plotlyJsWritten = true;
            var path = PlotlyJsFile;
            var js = PlotlyHost.PlotlyJs();
            try
            {
                if (File.Exists(path) && File.ReadAllText(path) == js) return;
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                var temp = $"{path}.{Environment.ProcessId}.tmp";
                File.WriteAllText(temp, js);
                File.Move(temp, path, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"charts: cannot write plotly.js to {path} ({e.Message}); charts show " +
                                        "their static images only");
            }
        }
    }

    /// <summary>Jupyter's user data folder, by jupyter_core's rules: $JUPYTER_DATA_DIR, else ~/Library/Jupyter
    /// (macOS), %APPDATA%\jupyter (Windows), $XDG_DATA_HOME/jupyter or ~/.local/share/jupyter (Linux).</summary>
    static string JupyterDataFolder()
    {
        if (Environment.GetEnvironmentVariable("JUPYTER_DATA_DIR") is { Length: > 0 } dir) return dir;
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (OperatingSystem.IsMacOS()) return Path.Combine(home, "Library", "Jupyter");
        if (OperatingSystem.IsWindows())
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData), "jupyter");
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        return Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".local", "share") : xdg, "jupyter");
    }

    /// <summary>Plotly.NET's script ends by calling its <c>renderPlotly_&lt;id&gt;</c> function.</summary>
    [GeneratedRegex(@"^(renderPlotly_\w+)\(\);\s*$", RegexOptions.Multiline)]
    private static partial Regex RenderCall();

    /// <summary>The static image, then the plotly chart, whose render call is replaced by <see cref="DrawScript"/>.
    /// Front ends that insert outputs with jQuery leave <c>document.currentScript</c> null, so the script finds its
    /// box by id.</summary>
    static string WithStaticImage(ChartSpec chart, string plotlyHtml)
    {
        var id = "flux2-chart-" + Guid.NewGuid().ToString("N");
        var calls = RenderCall().Matches(plotlyHtml);
        if (calls.Count != 1)
            throw new InvalidOperationException($"Plotly.NET's chart HTML has {calls.Count} render calls, not 1");
        var call = calls[0];
        var html = plotlyHtml[..call.Index] + DrawScript(id, call.Groups[1].Value) +
                   plotlyHtml[(call.Index + call.Length)..];
        return $"<div class=\"flux2-chart\" id=\"{id}\">" + ChartSvg.ImageTag(chart) + html + "</div>";
    }

    /// <summary>Draws the chart and hides its static image, once <c>Plotly</c> exists. Without it, the first chart of
    /// the page loads plotly.js (one promise the others wait on): through require.js where the page has it (Jupyter
    /// Notebook maps <c>nbextensions/</c> there; plotly.js then registers as a module instead of a global), else by
    /// a script element below the server's base URL (Jupyter Notebook: body's data-base-url; JupyterLab: its
    /// config data). A failed load keeps the image and lets a later chart try again.</summary>
    static string DrawScript(string boxId, string render)
    {
        var module = PlotlyJsUrlPath[..^".js".Length];
        return $$"""
            (function () {
              function draw() {
                var box = document.getElementById('{{boxId}}');
                if (!box) return;
                {{render}}();
                var image = box.querySelector('img.flux2-chart-static');
                if (image) image.style.display = 'none';
              }
              if (window.Plotly) { draw(); return; }
              if (!window.flux2PlotlyJs) window.flux2PlotlyJs = new Promise(function (resolve, reject) {
                var name = '{{module}}';
                if (typeof window.requirejs === 'function') {
                  window.requirejs([name], function (plotly) { window.Plotly = window.Plotly || plotly; resolve(); },
                    function (e) { window.requirejs.undef(name); reject(e); });
                  return;
                }
                var config = document.getElementById('jupyter-config-data');
                var base = document.body.getAttribute('data-base-url') ||
                  (config && JSON.parse(config.textContent).baseUrl) || '/';
                var script = document.createElement('script');
                script.src = base + name + '.js';
                script.onload = function () { window.Plotly ? resolve() : reject(); };
                script.onerror = reject;
                document.head.appendChild(script);
              });
              window.flux2PlotlyJs.then(draw, function () { window.flux2PlotlyJs = null; });
            })();
            """;
    }
}
