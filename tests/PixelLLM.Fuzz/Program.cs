using PixelLLM.Fuzz;

// pixelllm-fuzz TARGET            — run under AFL++ (SharpFuzz out-of-process loop; the campaign script instruments first)
// pixelllm-fuzz TARGET --replay DIR — feed every file of DIR once; exit 1 naming each input that is not cleanly handled
if (args.Length is not (1 or 3) || !FuzzTargets.All.ContainsKey(args[0]) || (args.Length == 3 && args[1] != "--replay"))
{
    Console.Error.WriteLine($"usage: pixelllm-fuzz TARGET [--replay DIR]; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
    return 2;
}
var target = args[0];
if (args.Length == 3)
{
    int bad = 0;
    foreach (var file in Directory.EnumerateFiles(args[2]).Order(StringComparer.Ordinal))
        if (FuzzTargets.Check(target, File.ReadAllBytes(file)) is { } finding)
        {
            bad++;
            Console.Error.WriteLine($"{file}: {finding.GetType().Name}: {finding.Message}");
        }
    return bad == 0 ? 0 : 1;
}
SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    var bytes = buffer.ToArray();
    // Clean rejections return normally; any other exception escapes and AFL records the input as a crash.
    try { FuzzTargets.All[target](bytes); }
    catch (Exception e) when (FuzzTargets.IsCleanRejection(e)) { }
});
return 0;
