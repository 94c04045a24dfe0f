using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Flux2.Training.Logging;

/// <summary>
/// Writes a run's <c>run.sqlite</c> from the trainer's callbacks (the trainer itself knows nothing of it): a
/// <c>runs</c> row per start, a <c>steps</c> row per step with the memory in use, an <c>events</c> row per sample,
/// save, evaluation, resume and skipped step. On resume the rows after the resumed step — logged by the process that
/// was killed before its next checkpoint — are deleted, so the log reads like one uninterrupted run.
/// </summary>
public sealed class RunLogWriter : IDisposable
{
    readonly SqliteConnection db;
    readonly long runId;
    readonly Func<double> memoryMb;

    /// <param name="memoryMb">Memory in use now, in MiB (process RSS on CPU, device memory on CUDA).</param>
    public RunLogWriter(string runFolder, string model, string device, int totalSteps, string configJson,
        Func<double> memoryMb)
    {
        Directory.CreateDirectory(runFolder);
        db = RunLogSchema.Open(Path.Combine(runFolder, RunLogSchema.FileName), create: true);
        this.memoryMb = memoryMb;
        using var cmd = db.CreateCommand();
        cmd.CommandText =
            "INSERT INTO runs(started, model, device, total_steps, config) VALUES($t, $m, $d, $n, $c); SELECT " +
            "last_insert_rowid();";
        cmd.Parameters.AddWithValue("$t", Now());
        cmd.Parameters.AddWithValue("$m", model);
        cmd.Parameters.AddWithValue("$d", device);
        cmd.Parameters.AddWithValue("$n", totalSteps);
        cmd.Parameters.AddWithValue("$c", configJson);
        runId = (long)cmd.ExecuteScalar()!;
    }

    public TrainerCallbacks Callbacks => new()
    {
        OnStep = Step,
        OnSample = r => Event(r.Step, "sample", r.GridPath),
        OnSave = r => Event(r.Step, "save", r.Path),
        OnEval = r => Event(r.Step, "eval", null, r.Loss),
        OnResume = Resume,
    };

    void Step(StepReport r)
    {
        RunLogSchema.Execute(db, """
            INSERT OR REPLACE INTO steps(step, run_id, loss, lr, timestep, grad_norm, seconds, memory_mb, epoch,
                applied)
            VALUES($s, $r, $loss, $lr, $t, $g, $sec, $mem, $e, $a)
            """, ("$s", r.Step), ("$r", runId), ("$loss", Finite(r.Loss)), ("$lr", r.LearningRate), ("$t", r.Timestep),
            ("$g", Finite(r.GradNorm)), ("$sec", r.Seconds), ("$mem", memoryMb()), ("$e", r.Epoch),
                ("$a", r.Applied ? 1 : 0));
        if (!r.Applied) Event(r.Step, "nan", "non-finite loss or gradient; update skipped");
    }

    void Resume(ResumeReport r)
    {
        using var tx = db.BeginTransaction();
        RunLogSchema.Execute(db, "DELETE FROM steps WHERE step > $s", ("$s", r.Step));
        RunLogSchema.Execute(db, "DELETE FROM events WHERE step > $s", ("$s", r.Step));
        RunLogSchema.Execute(db, "UPDATE runs SET resumed_from = $s WHERE id = $r", ("$s", r.Step), ("$r", runId));
        tx.Commit();
        Event(r.Step, "resume", r.Path);
    }

    void Event(int step, string kind, string? detail, double? value = null) =>
        RunLogSchema.Execute(db,
            "INSERT INTO events(run_id, step, kind, detail, value, time) VALUES($r, $s, $k, $d, $v, $t)",
            ("$r", runId), ("$s", step), ("$k", kind), ("$d", detail), ("$v", value is double v ? Finite(v) : null),
            ("$t", Now()));

    /// <summary>SQLite has no NaN (it would read back as NULL anyway); say so explicitly.</summary>
    static object? Finite(double v) => double.IsFinite(v) ? v : null;

    static string Now() => DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);

    public void Dispose() => db.Dispose();
}
