using System.Runtime.ExceptionServices;

namespace CudaAdam.Cpu;

/// <summary>Work split into numbered chunks that may run on any thread, in any order.</summary>
internal interface IChunkJob
{
    void RunChunk(int chunk);
}

/// <summary>
/// A small process-wide pool of worker threads for the fast CPU step: no allocation per job, no spinning (the
/// helpers block on a monitor between jobs, so they do not steal the CPU from the caller's other threads, e.g.
/// BLAS). The calling thread works too; chunks are claimed with one interlocked increment each. A helper that wakes
/// after the last chunk has been claimed does nothing, so the caller never waits for a thread that is not running.
/// What runs where does not change any result: the fast step is element-wise, and reductions combine per-chunk
/// partials in a fixed order afterwards.
/// </summary>
internal sealed class CpuWorkers
{
    private static readonly Lazy<CpuWorkers> LazyShared = new(() => new CpuWorkers(Environment.ProcessorCount - 1));

    /// <summary>The pool: <see cref="Environment.ProcessorCount"/> − 1 helpers (the caller is the last thread).</summary>
    public static CpuWorkers Shared => LazyShared.Value;

    private readonly object _gate = new();
    private readonly Lock _oneJobAtATime = new();
    private readonly int _helpers;
    private IChunkJob? _job;
    private int _chunks, _next, _active, _allowed;
    private long _generation;
    private Exception? _error;

    private CpuWorkers(int helpers)
    {
        _helpers = Math.Max(0, helpers);
        for (int i = 0; i < _helpers; i++)
        {
            int index = i;
            new Thread(() => Loop(index)) { IsBackground = true, Name = $"cudaadam-cpu-{i + 1}" }.Start();
        }
    }

    /// <summary>Threads available, the caller included.</summary>
    public int MaxThreads => _helpers + 1;

    /// <summary>Runs chunks 0 … <paramref name="chunks"/>−1 of <paramref name="job"/> on up to
    /// <paramref name="threads"/> threads (the caller included) and returns when all have run.</summary>
    public void Run(IChunkJob job, int chunks, int threads)
    {
        int helpers = Math.Min(Math.Min(threads, MaxThreads) - 1, chunks - 1);
        if (helpers <= 0)
        {
            for (int c = 0; c < chunks; c++) job.RunChunk(c);
            return;
        }
        lock (_oneJobAtATime)
        {
            lock (_gate)
            {
                _job = job;
                _chunks = chunks;
                _next = 0;
                _allowed = helpers;
                _error = null;
                _generation++;
                Monitor.PulseAll(_gate);
            }
            try
            {
                Work(job, chunks);
            }
            catch (Exception e)
            {
                lock (_gate) _error ??= e;
                Interlocked.Exchange(ref _next, chunks);
            }
            Exception? error;
            lock (_gate)
            {
                while (_active > 0) Monitor.Wait(_gate);
                _job = null;
                error = _error;
                _error = null;
            }
            if (error is not null) ExceptionDispatchInfo.Throw(error);
        }
    }

    private void Work(IChunkJob job, int chunks)
    {
        int c;
        while ((c = Interlocked.Increment(ref _next) - 1) < chunks) job.RunChunk(c);
    }

    private void Loop(int index)
    {
        long seen = 0;
        while (true)
        {
            IChunkJob job;
            int chunks;
            lock (_gate)
            {
                while (_generation == seen) Monitor.Wait(_gate);
                seen = _generation;
                if (_job is null || index >= _allowed || Volatile.Read(ref _next) >= _chunks) continue;
                job = _job;
                chunks = _chunks;
                _active++;
            }
            try
            {
                Work(job, chunks);
            }
            catch (Exception e)
            {
                lock (_gate) _error ??= e;
                Interlocked.Exchange(ref _next, chunks);
            }
            lock (_gate)
            {
                if (--_active == 0) Monitor.PulseAll(_gate);
            }
        }
    }
}
