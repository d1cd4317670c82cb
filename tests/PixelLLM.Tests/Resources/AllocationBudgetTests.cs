using PixelLLM.Backends.Cpu;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests.Resources;

/// <summary>The backend allocation budget: typed out-of-memory, nothing kept by a failed allocation or compile, CUDA statuses mapped.</summary>
public class AllocationBudgetTests
{
    [Fact]
    public void ReservationsOverTheLimitFailTypedAndReleasesGiveBytesBack()
    {
        var budget = new AllocationBudget(1000, "test memory");
        budget.Reserve(600);
        var e = Assert.Throws<OutOfBackendMemoryException>(() => budget.Reserve(401));
        Assert.Contains("test memory cannot allocate 401 B", e.Message);
        Assert.Contains("600 B of its 1000 B limit in use", e.Message);
        Assert.Equal(600, budget.UsedBytes);
        budget.Reserve(400); // exactly the limit is allowed
        budget.Release(1000);
        Assert.Equal(0, budget.UsedBytes);
        Assert.Throws<OutOfBackendMemoryException>(() => budget.Reserve(long.MaxValue));
    }

    [Fact]
    public void UnlimitedBudgetOnlyCounts()
    {
        var budget = new AllocationBudget(0, "unlimited");
        budget.Reserve(long.MaxValue / 2);
        Assert.Equal(long.MaxValue / 2, budget.UsedBytes);
    }

    [Fact]
    public void ConcurrentReservationsNeverExceedTheLimit()
    {
        var budget = new AllocationBudget(64 * 100, "shared");
        int granted = 0;
        Parallel.For(0, 1000, _ =>
        {
            try { budget.Reserve(64); Interlocked.Increment(ref granted); }
            catch (OutOfBackendMemoryException) { }
        });
        Assert.Equal(100, granted);
        Assert.Equal(64 * 100, budget.UsedBytes);
    }

    [Fact]
    public void CpuBuffersDrawFromTheBackendBudgetAndReturnOnDispose()
    {
        using var backend = new CpuBackend(workingMemoryLimitBytes: 4096);
        var a = backend.Allocate(3000);
        Assert.Equal(3000, backend.Budget.UsedBytes);
        Assert.Throws<OutOfBackendMemoryException>(() => backend.Allocate(2000));
        a.Dispose();
        a.Dispose(); // twice: released once
        Assert.Equal(0, backend.Budget.UsedBytes);
        backend.Allocate(4096).Dispose();
    }

    [Fact]
    public void HostRefusingAnAllocationIsTheSameTypedError()
    {
        using var backend = new CpuBackend();
        // More than any machine's address space: NativeMemory refuses it, which must not surface as a bare OutOfMemoryException.
        var e = Assert.Throws<OutOfBackendMemoryException>(() => backend.Allocate(1L << 62));
        Assert.StartsWith("out of memory: the host refused", e.Message);
        Assert.Equal(0, backend.Budget.UsedBytes);
    }

    [Fact]
    public void FailedCompileReleasesTheArenaItAlreadyHad()
    {
        var g = new Graph();
        var state = g.State("cache", DType.F32, 1000, 1000); // 4 MB of state, allocated after the small arena
        var written = g.WriteAt(state, g.Input("row", DType.F32, 1, 1000), g.Input("pos", DType.I32, 1), axis: 0);
        g.Output("sum", g.Add(written, written));
        using var backend = new CpuBackend(workingMemoryLimitBytes: 1 << 20);
        Assert.Throws<OutOfBackendMemoryException>(() => new GraphExecutor(g, backend));
        Assert.Equal(0, backend.Budget.UsedBytes);
    }

    [Fact]
    public void CudaOutOfMemoryStatusesAreTyped()
    {
        Assert.IsType<OutOfBackendMemoryException>(CudaDriver.Failure(CudaDriver.OutOfMemory, "cuMemAlloc(1 bytes)", "CUDA_ERROR_OUT_OF_MEMORY (out of memory)"));
        Assert.StartsWith("out of memory: cuMemAlloc", CudaDriver.Failure(2, "cuMemAlloc(1 bytes)", "CUDA_ERROR_OUT_OF_MEMORY").Message);
        var other = CudaDriver.Failure(700, "cuStreamSynchronize", "CUDA_ERROR_ILLEGAL_ADDRESS");
        Assert.IsNotType<OutOfBackendMemoryException>(other);
        Assert.Equal("cuStreamSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS", other.Message);
        Assert.IsType<OutOfBackendMemoryException>(Cublas.Failure(Cublas.AllocFailed, "cublasCreate", null));
        Assert.Contains("CUBLAS_STATUS_ALLOC_FAILED", Cublas.Failure(3, "cublasCreate", null).Message);
        Assert.IsNotType<OutOfBackendMemoryException>(Cublas.Failure(7, "cublasGemmStridedBatchedEx", "CUBLAS_STATUS_INVALID_VALUE"));
    }
}
