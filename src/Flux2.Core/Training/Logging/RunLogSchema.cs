using Microsoft.Data.Sqlite;

namespace Flux2.Training.Logging;

/// <summary>
/// The tables of <c>run.sqlite</c> (one per run folder). <c>runs</c>: one row per start of the run (a resume adds one);
/// <c>steps</c>: one row per optimizer step, keyed by step, so a resume replaces what the killed process logged after
/// its checkpoint; <c>events</c>: samples, saves, resumes, evaluations (value = loss), skipped NaN steps.
/// </summary>
static class RunLogSchema
{
    public const string FileName = "run.sqlite";

    const string Tables = """
        CREATE TABLE IF NOT EXISTS runs(
            id INTEGER PRIMARY KEY, started TEXT NOT NULL, model TEXT, device TEXT, total_steps INTEGER,
            resumed_from INTEGER, config TEXT);
        CREATE TABLE IF NOT EXISTS steps(
            step INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, loss REAL, lr REAL, timestep REAL, grad_norm REAL,
            seconds REAL, memory_mb REAL, epoch INTEGER, applied INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS events(
            id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, step INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT,
            value REAL, time TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS events_step ON events(step);
        """;

    /// <summary>Opens (creating when asked) with WAL, so a notebook can read while the trainer writes.</summary>
    public static SqliteConnection Open(string path, bool create)
    {
        if (!create && !File.Exists(path)) throw new FileNotFoundException($"no run log at {path}", path);
        // No pooling: a pooled connection keeps the file open after Dispose, which blocks moving the run folder
        // (--restart).
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Pooling = false,
            Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite
        };
        var db = new SqliteConnection(builder.ToString());
        db.Open();
        Execute(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;");
        if (create) Execute(db, Tables);
        return db;
    }

    public static void Execute(SqliteConnection db, string sql, params (string name, object? value)[] args)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        cmd.ExecuteNonQuery();
    }
}
