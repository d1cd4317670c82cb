using System.CommandLine;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Interop;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm kernels --arch sm_90</c>: compiles every kernel file with NVRTC and prints ptxas's per-kernel resources.</summary>
internal static class KernelsCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = "target, e.g. sm_80, sm_90, sm_90a", DefaultValueFactory = _ => "sm_90" };
        var command = new Command("kernels", "Compile every CUDA kernel (NVRTC) and list registers, shared memory and spills") { arch };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            GpuArch target;
            try { target = GpuArch.Parse(parse.GetValue(arch)!); }
            catch (ArgumentException e) { throw new Runtime.InvalidInputException("--arch: " + e.Message); }
            var nvrtc = Nvrtc.Load();
            var compiler = new KernelCompiler(nvrtc, KernelCache.Default());
            Console.WriteLine($"{"file",-22} {"kernel",-34} {"regs",5} {"smem B",7} {"stack B",8} {"spill st/ld B",14}");
            int kernels = 0, spilling = 0;
            string? kind = null;
            foreach (var file in KernelSources.KernelFiles)
            {
                var compiled = compiler.Compile(file, target, ptxasVerbose: true);
                kind = $"{compiled.Kind} {compiled.Target}";
                foreach (var r in compiled.Resources.Where(r => r.IsEntry))
                {
                    kernels++;
                    if (r.Spills) spilling++;
                    Console.WriteLine($"{file,-22} {r.Function,-34} {r.Registers,5} {r.SharedBytes,7} {r.StackFrameBytes,8} {$"{r.SpillStoreBytes}/{r.SpillLoadBytes}",14}");
                }
            }
            Console.WriteLine($"kernels: {kernels} kernels in {KernelSources.KernelFiles.Count} files, {spilling} spilling ({kind}, NVRTC {nvrtc.Version})");
            return spilling == 0 ? 0 : 1;
        }));
        return command;
    }
}
