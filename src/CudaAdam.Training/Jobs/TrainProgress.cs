namespace CudaAdam.Training.Jobs;

/// <summary>
/// Receives a <see cref="TrainJob"/>'s progress step by step, one run (optimizer) at a time: the CLI draws a
/// Spectre.Console progress bar with an ETA from it on a terminal. The job's per-epoch text lines go to its log
/// writer whether or not a progress sink is given, so output redirected to a file stays plain lines.
/// </summary>
public interface ITrainProgress
{
    /// <summary>Run <paramref name="id"/> starts (or resumes) at step <paramref name="done"/> of <paramref name="total"/>.</summary>
    void Begin(string id, long done, long total);
    /// <summary>Run <paramref name="id"/> finished a training step.</summary>
    void Advance(string id, StepRecord step);
    /// <summary>Run <paramref name="id"/> finished and evaluated an epoch.</summary>
    void Epoch(string id, EpochRecord epoch);
    /// <summary>Run <paramref name="id"/> stopped: finished, or interrupted at a step boundary.</summary>
    void End(string id);
}
