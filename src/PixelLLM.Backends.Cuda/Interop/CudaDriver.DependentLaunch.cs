using System.Runtime.InteropServices;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>
/// Programmatic dependent launch (cuLaunchKernelEx with CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, CUDA 12+,
/// sm_90): the kernel may start while the previous one in the stream finishes; it must wait for it itself
/// (<c>pxl_dependent_launch()</c> in kernels/prelude.cuh, which every kernel calls first).
/// </summary>
public sealed unsafe partial class CudaDriver
{
    private const int ProgrammaticStreamSerialization = 6;   // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION

    private readonly delegate* unmanaged<LaunchConfig*, nint, void**, void**, int> _launchKernelEx;

    /// <summary>Whether the driver has cuLaunchKernelEx (CUDA 12.0+).</summary>
    public bool HasDependentLaunch => _launchKernelEx != null;

    /// <summary>As <see cref="Launch"/>, allowed to overlap the previous kernel in the stream (see the type's remarks).</summary>
    public void LaunchDependent(nint function, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes, nint stream,
        void** args, string name)
    {
        if (!HasDependentLaunch) throw new Runtime.BackendException($"{LibraryPath}: this driver has no cuLaunchKernelEx (needs CUDA 12.0+)");
        LaunchAttribute attribute = default;
        attribute.Id = ProgrammaticStreamSerialization;
        attribute.Value[0] = 1;   // programmaticStreamSerializationAllowed
        var config = new LaunchConfig
        {
            GridX = grid.X, GridY = grid.Y, GridZ = grid.Z, BlockX = block.X, BlockY = block.Y, BlockZ = block.Z,
            SharedBytes = sharedBytes, Stream = stream, Attributes = &attribute, AttributeCount = 1,
        };
        Check(_launchKernelEx(&config, function, args, null), $"cuLaunchKernelEx({name})");
    }

    /// <summary>CUlaunchConfig (56 bytes on 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct LaunchConfig
    {
        public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ, SharedBytes;
        public nint Stream;
        public LaunchAttribute* Attributes;
        public uint AttributeCount;
    }

    /// <summary>CUlaunchAttribute: the id, 4 bytes of padding, a 64-byte value union (72 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    internal struct LaunchAttribute
    {
        [FieldOffset(0)] public int Id;
        [FieldOffset(8)] public fixed int Value[16];
    }
}
