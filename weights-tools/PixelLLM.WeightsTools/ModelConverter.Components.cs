using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.WeightsTools;

public static partial class ModelConverter
{
    private static ConvertResult ConvertComponent(ConvertRequest request) =>
        throw new NotSupportedException($"convert --from {request.From}: not implemented yet");

    private static ConvertResult Assemble(ConvertRequest request, IBackend backend) =>
        throw new NotSupportedException("convert --from assemble: not implemented yet");
}
