namespace CudaAdam.Tests;

/// <summary>Paths inside the repository, found from the test assembly's folder by walking up to <c>CudaAdam.sln</c>,
/// so tests work from any working directory (dotnet test, an IDE, a CI runner).</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);

    /// <summary>The repository root: the nearest folder above the test assembly that holds <c>CudaAdam.sln</c>.</summary>
    /// <exception cref="DirectoryNotFoundException">No such folder (the tests run from a copy outside the repository).</exception>
    public static string RepoRoot => Root.Value;

    /// <summary><paramref name="parts"/> joined under <see cref="RepoRoot"/>, e.g. <c>InRepo("tests", "oracle")</c>.</summary>
    public static string InRepo(params string[] parts) => Path.Combine([RepoRoot, .. parts]);

    private static string FindRepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "CudaAdam.sln")))
                    return dir.FullName;
        }
        throw new DirectoryNotFoundException(
            $"CudaAdam.sln not found above {AppContext.BaseDirectory} nor above {Directory.GetCurrentDirectory()}: " +
            "run the tests from inside the repository (dotnet test tests/CudaAdam.Tests)");
    }
}
