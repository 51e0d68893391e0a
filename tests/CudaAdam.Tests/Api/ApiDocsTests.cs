namespace CudaAdam.Tests.Api;

/// <summary>
/// CS1591 (a public member without an XML doc) is a build error in the four libraries, except in the files of the
/// backlog (docs/api/cs1591-backlog.txt), which disable it with a marked pragma until their members are documented.
/// The backlog may only shrink: a file with the pragma that the list does not name fails, and so does a listed file
/// that no longer has it (delete its line).
/// </summary>
public class ApiDocsTests
{
    private const string Marker = "#pragma warning disable CS1591 // CS1591 backlog";

    [Test]
    public void TheCs1591BacklogOnlyShrinks()
    {
        var listed = File.ReadAllLines(TestPaths.InRepo("docs", "api", "cs1591-backlog.txt"))
            .Where(l => l.Length > 0 && !l.StartsWith('#')).ToHashSet();
        var withPragma = new[] { "CudaAdam", "CudaAdam.Cuda", "CudaAdam.Training", "CudaAdam.Experiments" }
            .SelectMany(p => Directory.GetFiles(TestPaths.InRepo("src", p), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && File.ReadAllText(f).Contains(Marker))
            .Select(f => Path.GetRelativePath(TestPaths.RepoRoot, f).Replace('\\', '/')).ToHashSet();
        Assert.That(withPragma.Except(listed), Is.Empty, "files that disable CS1591 without being in the backlog: document their public members instead");
        Assert.That(listed.Except(withPragma), Is.Empty, "backlog files that no longer disable CS1591: delete their lines from docs/api/cs1591-backlog.txt");
    }

    [Test]
    public void TheLibrariesShipTheirXmlDocsAndAlgorithmsCarryTheirEquations()
    {
        var xml = Path.Combine(AppContext.BaseDirectory, "CudaAdam.xml");
        Assert.That(File.Exists(xml), Is.True, "CudaAdam.xml (GenerateDocumentationFile) is not beside the assembly");
        var doc = System.Xml.Linq.XDocument.Load(xml);
        foreach (var info in Algorithms.All)
        {
            var member = doc.Descendants("member").SingleOrDefault(m => m.Attribute("name")?.Value == $"F:CudaAdam.Algorithm.{info.Algorithm}");
            Assert.That(member, Is.Not.Null, $"Algorithm.{info.Algorithm} has no XML doc");
            Assert.That(System.Text.RegularExpressions.Regex.Replace(member!.Value, @"\s+", " "),
                Does.Contain(System.Text.RegularExpressions.Regex.Replace(info.Equations, @"\s+", " ")), $"Algorithm.{info.Algorithm}'s doc lacks its equations");
        }
    }
}
