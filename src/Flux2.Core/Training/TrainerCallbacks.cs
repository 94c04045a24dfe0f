namespace Flux2.Training;

/// <summary>After each optimizer step: the loss (mean over the micro-batches), learning rate, mean drawn t, the
/// gradient norm before clipping, and the step's wall time.</summary>
public sealed record StepReport(int Step, int TotalSteps, double Loss, double LearningRate, double Timestep,
    double GradNorm, double Seconds, int Epoch)
{
    /// <summary>False when the loss or gradients were NaN/inf and the update was skipped (docs/ai-toolkit-compat.md
    /// §2.1 item 9).</summary>
    public bool Applied { get; init; } = true;
}

/// <summary>A sample grid written at <paramref name="Step"/> (0 = before training).</summary>
public sealed record SampleReport(int Step, string GridPath, IReadOnlyList<string> Prompts, double Seconds);

/// <summary>A LoRA file written at <paramref name="Step"/> (<paramref name="Final"/>: the
/// <c>&lt;name&gt;.safetensors</c> at the end).</summary>
public sealed record SaveReport(int Step, string Path, bool Final);

/// <summary>Loss on a fixed set of (image, t, noise) — comparable across steps and runs, unlike the noisy step
/// loss.</summary>
public sealed record EvalReport(int Step, double Loss);

/// <summary>The run continues from the training state <paramref name="Path"/> saved after step
/// <paramref name="Step"/>.</summary>
public sealed record ResumeReport(int Step, string Path);

/// <summary>Hooks a front end (CLI progress bar, notebook charts, run log) sets to watch a run. All optional.</summary>
public sealed class TrainerCallbacks
{
    public Action<StepReport>? OnStep { get; init; }
    public Action<SampleReport>? OnSample { get; init; }
    public Action<SaveReport>? OnSave { get; init; }
    public Action<EvalReport>? OnEval { get; init; }
    public Action<ResumeReport>? OnResume { get; init; }
    public Action<string>? OnMessage { get; init; }

    /// <summary>Both subscribers get every event, <paramref name="first"/> first.</summary>
    public static TrainerCallbacks Combine(TrainerCallbacks first, TrainerCallbacks? second) => second is null ? first
        : new()
        {
            OnStep = first.OnStep + second.OnStep,
            OnSample = first.OnSample + second.OnSample,
            OnSave = first.OnSave + second.OnSave,
            OnEval = first.OnEval + second.OnEval,
            OnResume = first.OnResume + second.OnResume,
            OnMessage = first.OnMessage + second.OnMessage,
        };
}
