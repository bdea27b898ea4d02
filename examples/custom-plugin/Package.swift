// swift-tools-version:6.1
import PackageDescription

// A sidecar with a step of your own: this package depends on Resumable, defines a
// plugin, registers it, and runs Resumable's command line (serve and the client
// commands) with it.
let package = Package(
  name: "custom-plugin",
  dependencies: [
    // In your project: .package(url: "<the Resumable repository>", from: "…").
    .package(name: "resumable", path: "../..")
  ],
  targets: [
    .executableTarget(
      name: "my-sidecar",
      dependencies: [
        .product(name: "ResumableCLI", package: "resumable"),
        .product(name: "ResumableCore", package: "resumable"),
      ],
      swiftSettings: [.swiftLanguageMode(.v6)]
    )
  ]
)
