// Placeholder until the remaining references land (deleted by that change).
namespace CudaAdam.Reference;
#pragma warning disable CS1591
public static class AdaMaxReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class NAdamReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class RAdamReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class SgdReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class AdaGradReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class RmsPropReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class AdaDeltaReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class SignSgdReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class SignumReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
public static class LionReference { public static void Step(Span<float> p, ReadOnlySpan<float> g, ParamState s, Hyperparameters hp, in StepScalars k) => throw new NotImplementedException(); }
