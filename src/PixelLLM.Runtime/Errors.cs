namespace PixelLLM.Runtime;

/// <summary>A model or weights file is malformed or does not match what was expected.</summary>
public class ModelFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A request carries input the engine cannot accept (shape, dtype, range, emptiness).</summary>
public class InvalidInputException(string message) : Exception(message);

/// <summary>A graph was built with operands whose shapes or dtypes do not fit the op.</summary>
public class GraphBuildException(string message) : Exception(message);

/// <summary>A backend failed (device error, out of memory, missing library).</summary>
public class BackendException(string message, Exception? inner = null) : Exception(message, inner);
