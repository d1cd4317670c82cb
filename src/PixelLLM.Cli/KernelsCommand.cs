using System.CommandLine;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Interop;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm kernels --arch sm_90</c>: compiles every kernel file with NVRTC (files in parallel) and prints ptxas's
/// per-kernel resources. The compiles land in the kernel cache under the keys the backend uses, so on a fresh machine it
/// also warms the cache for every later run.
/// </summary>
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
            var files = KernelSources.KernelFiles;
            var results = new CompiledKernel[files.Count];
            Parallel.For(0, files.Count, i => results[i] = compiler.Compile(files[i], target, ptxasVerbose: true));
            foreach (var (file, compiled) in files.Zip(results))
            {
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
