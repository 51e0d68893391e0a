namespace CudaAdam.Tests;

/// <summary>In CI a missing prerequisite fails; elsewhere it skips with its reason.</summary>
public class PrerequisiteTests
{
    [Test]
    public void AMissingPrerequisiteFailsInCiAndSkipsElsewhere()
    {
        string? saved = Environment.GetEnvironmentVariable("CI");
        try
        {
            Environment.SetEnvironmentVariable("CI", "true");
            Assert.That(() => Prerequisite.Missing("no frobnicator"), Throws.InstanceOf<AssertionException>().With.Message.Contains("CI: a prerequisite is missing").And.Message.Contains("no frobnicator"));
            Environment.SetEnvironmentVariable("CI", null);
            Assert.That(() => Prerequisite.Missing("no frobnicator"), Throws.InstanceOf<IgnoreException>().With.Message.EqualTo("no frobnicator"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("CI", saved);
        }
    }
}
