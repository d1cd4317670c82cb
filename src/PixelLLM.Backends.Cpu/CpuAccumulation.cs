namespace PixelLLM.Backends.Cpu;

/// <summary>How the CPU backend's GEMMs (MatMul, Linear, convolutions) sum their products.</summary>
public enum CpuAccumulation
{
    /// <summary>SIMD float32 micro-kernels: the fast path, and the one every op test covers.</summary>
    Float32,

    /// <summary>
    /// Float32 operands, products and sums in float64, rounded once: several times slower, for comparing with reference
    /// outputs whose own float32 noise is close to their tolerance (backend name "cpu-f64").
    /// </summary>
    Float64,
}
