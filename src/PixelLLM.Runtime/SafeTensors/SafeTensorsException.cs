namespace PixelLLM.Runtime.SafeTensors;

/// <summary>
/// A safetensors file is malformed: bad length prefix, bad header JSON, or tensor entries whose dtype, shape
/// or byte ranges do not describe valid data inside the file. The message names the file and, where one is
/// involved, the tensor and what was expected.
/// </summary>
public sealed class SafeTensorsException(string message, Exception? inner = null) : ModelFileException(message, inner);
