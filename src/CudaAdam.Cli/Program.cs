namespace CudaAdam.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("cudaadam: no commands yet");
        return 2;
    }
}
