using Microsoft.Data.Sqlite;

namespace Flux2.Training.Logging;

/// <summary>Per-step columns of a run, as arrays for plotting (NaN where a step was skipped).</summary>
public sealed record StepSeries(int[] Step, double[] Loss, double[] LearningRate, double[] Timestep, double[] GradNorm,
                                double[] Seconds, double[] MemoryMb, int[] Epoch);

public sealed record RunLogEvent(int Step, string Kind, string? Detail, double? Value, string Time);

/// <summary>One start of a run: the first, or a resume (<paramref name="ResumedFrom"/>).</summary>
public sealed record RunLogStart(long Id, string Started, string? Model, string? Device, int TotalSteps,
    int? ResumedFrom, string? Config);

/// <summary>
/// Reads a run's <c>run.sqlite</c>, for notebooks that compare runs: <c>RunLog.Open(folder).Steps().Loss</c>.
/// Safe while the run is still training (the writer uses WAL).
/// </summary>
public sealed class RunLog : IDisposable
{
    public const string FileName = RunLogSchema.FileName;
    readonly SqliteConnection db;

    RunLog(SqliteConnection db) { this.db = db; }

    /// <summary>A run folder or the <c>run.sqlite</c> file itself.</summary>
    public static RunLog Open(string runFolderOrFile) =>
        new(RunLogSchema.Open(Directory.Exists(runFolderOrFile) ? Path.Combine(runFolderOrFile, FileName)
            : runFolderOrFile, create: false));

    /// <summary>Run folders under <paramref name="trainingFolder"/> that have a run log, by name.</summary>
    public static IReadOnlyList<string> ListRuns(string trainingFolder) =>
        Directory.Exists(trainingFolder)
            ? Directory.GetDirectories(trainingFolder).Where(d => File.Exists(Path.Combine(d, FileName)))
                .Order(StringComparer.Ordinal).ToList()
            : Array.Empty<string>();

    public StepSeries Steps()
    {
        var rows =
            Query("SELECT step, loss, lr, timestep, grad_norm, seconds, memory_mb, epoch FROM steps ORDER BY step",
            r => (step: r.GetInt32(0), loss: Real(r, 1), lr: Real(r, 2), t: Real(r, 3), g: Real(r, 4), s: Real(r, 5),
                m: Real(r, 6), e: r.GetInt32(7)));
        return new StepSeries(rows.Select(x => x.step).ToArray(), rows.Select(x => x.loss).ToArray(),
            rows.Select(x => x.lr).ToArray(),
            rows.Select(x => x.t).ToArray(), rows.Select(x => x.g).ToArray(), rows.Select(x => x.s).ToArray(),
            rows.Select(x => x.m).ToArray(), rows.Select(x => x.e).ToArray());
    }

    /// <summary>Events in order, optionally of one kind ('sample', 'save', 'resume', 'eval', 'nan').</summary>
    public IReadOnlyList<RunLogEvent> Events(string? kind = null) =>
        Query("SELECT step, kind, detail, value, time FROM events" + (kind is null ? "" : " WHERE kind = $k") +
            " ORDER BY step, id",
              r => new RunLogEvent(r.GetInt32(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2),
                  r.IsDBNull(3) ? null : r.GetDouble(3), r.GetString(4)),
              ("$k", kind));

    public IReadOnlyList<RunLogStart> Runs() =>
        Query("SELECT id, started, model, device, total_steps, resumed_from, config FROM runs ORDER BY id",
              r => new RunLogStart(r.GetInt64(0), r.GetString(1), Text(r, 2), Text(r, 3), r.GetInt32(4),
                  r.IsDBNull(5) ? null : r.GetInt32(5), Text(r, 6)));

    List<T> Query<T>(string sql, Func<SqliteDataReader, T> row, params (string name, object? value)[] args)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        using var reader = cmd.ExecuteReader();
        var result = new List<T>();
        while (reader.Read()) result.Add(row(reader));
        return result;
    }

    static double Real(SqliteDataReader r, int i) => r.IsDBNull(i) ? double.NaN : r.GetDouble(i);
    static string? Text(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public void Dispose() => db.Dispose();
}
