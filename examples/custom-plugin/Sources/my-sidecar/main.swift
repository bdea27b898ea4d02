import ResumableCLI
import ResumableCore

// The built-in plugins (echo, simulate) and ours. Registering a taken name
// throws here, at start-up — never a surprise at run time.
var plugins = PluginRegistry.builtIn()
try plugins.register(ShoutPlugin(), as: "shout")

// `my-sidecar serve …`, `my-sidecar start …`: Resumable's command line, with our plugin.
await ResumableCommandLine.main(plugins: plugins)
