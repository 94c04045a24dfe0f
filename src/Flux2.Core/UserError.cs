namespace Flux2;

/// <summary>A mistake in how the tool was called, in the user's files or in the environment: the CLI prints the message
/// alone (no stack trace) and exits with code 2, so the message names the file, key or option and the fix.</summary>
public class UserError(string message, Exception? inner = null) : Exception(message, inner);
