namespace PixelLLM.Runtime;

/// <summary>
/// A model or request would exceed a bound: a configured limit (the message names the option and its value) or the memory
/// the machine has. Nothing was allocated for it; the same model serves the next request.
/// </summary>
public class ResourceLimitException(string message, string limit) : InvalidInputException(message)
{
    /// <summary>The option or resource that was exceeded, e.g. "PixelLlmOptions.MaxPromptsPerRequest" or "available memory".</summary>
    public string Limit { get; } = limit;
}

/// <summary>
/// A backend could not allocate memory: the host or device is out of memory, or an allocation budget
/// (<see cref="Execution.AllocationBudget"/>) is spent. The request that hit it is abandoned; what it allocated is released.
/// </summary>
public class OutOfBackendMemoryException(string message, Exception? inner = null) : BackendException(message, inner);
