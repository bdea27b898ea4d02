import ResumableCLI
import ResumableCore
import ResumablePlugins

// The sidecar and its client, with every standard plugin (echo, simulate, exec, http, llm).
await ResumableCommandLine.main(plugins: .standard())
