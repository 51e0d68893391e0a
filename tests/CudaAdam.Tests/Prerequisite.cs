namespace CudaAdam.Tests;

/// <summary>
/// A test whose prerequisite (the emulator library, NVRTC, Debian's torch or SciPy, OpenBLAS, Fashion-MNIST, root for
/// the adversarial device cases) is missing: skipped with the reason on a developer's machine, but FAILED in CI
/// (<c>CI=true</c>), where <c>./build.sh setup</c> installs everything, so a broken setup cannot pass as green. Only
/// the tests that need a real GPU skip in CI (they use <see cref="Assert.Ignore(string)"/> directly, with the reason).
/// </summary>
public static class Prerequisite
{
    /// <summary>Whether this is a CI run (<c>CI=true</c>, as .ci/run is started).</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Skips (developer) or fails (CI) the test: <paramref name="reason"/> says what is missing and how to get it.</summary>
    public static void Missing(string reason)
    {
        if (InCi) Assert.Fail($"CI: a prerequisite is missing, so this test cannot run (in CI only GPU tests may skip): {reason}");
        Assert.Ignore(reason);
    }
}
