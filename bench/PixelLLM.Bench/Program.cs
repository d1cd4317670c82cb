using BenchmarkDotNet.Running;
using PixelLLM.Bench;

// Plain console modes first; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--t5-decode") return T5DecodeBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "--vision") return VisionBench.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
