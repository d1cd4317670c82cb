using System.CommandLine;
using PixelLLM.Cli;

var root = new RootCommand("PixelLLM.Native: pixel-aligned captioning, referring and segmentation");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(VerifyCommand.Create());
return await root.Parse(args).InvokeAsync();
