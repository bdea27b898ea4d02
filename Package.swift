// swift-tools-version:6.1
import PackageDescription

// Layers, dependencies pointing one way (see docs/Design.md): a module imports only
// modules listed before it (scripts/check-layers.py checks it, in `make test`).
//   CHiredis, CProtobufC (system libraries)
//   CResumableProto (protoc-c output for proto/)
//   CResumableSocket (what Swift cannot name or call: struct ucred, fork + prctl)
//   ResumableSocket (Unix socket rules shared by server, client and Redis: peer
//     credentials, trust, the default socket directory)
//   ResumableWire (framing + message value types; the only protobuf-c user)
//   ResumableRedis (RESP over NIO through hiredis; the only hiredis user; local redis-server processes:
//     the embedded one, a local cluster for the benchmark and the tests)
//   ResumableCore (definitions, plugins, registry, runner, store protocol)
//   ResumablePlugins (exec, http, llm: steps that reach real work)
//   ResumableStore (the Redis state store: Lua scripts, key layout)
//   ResumableMetrics (the opt-in Prometheus endpoint; modules record through swift-metrics)
//   ResumableServer (the composition root: state backends, listener, connections, RPC
//     dispatch and its one error path, the engine as a service)
//   ResumableClient (async client library for programs)
//   ResumableBench (the benchmark suite: drives a server child process)
//   ResumableCLI (the command line: serve + client commands + bench, and their presentation:
//     text and JSON rendering, watch progress, exit codes; as a library)
//   resumable (the executable: ResumableCLI with the standard plugins), ResumableTestSupport
//     (private redis-servers, the in-memory StateStore and the manual clock for the engine's fast
//     tests, `resumable` child processes, shared fixtures: for
//     ResumableServerTests and ResumableCLITests, the CLI's tests, end to end as processes)
let swiftSettings: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
  name: "resumable",
  products: [
    .executable(name: "resumable", targets: ["resumable"]),
    .library(name: "ResumableCore", targets: ["ResumableCore"]),
    .library(name: "ResumablePlugins", targets: ["ResumablePlugins"]),
    .library(name: "ResumableServer", targets: ["ResumableServer"]),
    .library(name: "ResumableClient", targets: ["ResumableClient"]),
    .library(name: "ResumableCLI", targets: ["ResumableCLI"]),
    .library(name: "ResumableTestSupport", targets: ["ResumableTestSupport"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
    .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CHiredis",
      pkgConfig: "hiredis",
      providers: [.apt(["libhiredis-dev"])]
    ),
    .systemLibrary(
      name: "CProtobufC",
      pkgConfig: "libprotobuf-c",
      providers: [.apt(["libprotobuf-c-dev"])]
    ),
    .target(
      name: "CResumableProto",
      dependencies: ["CProtobufC"]
    ),
    .target(name: "CResumableSocket"),
    .target(
      name: "ResumableSocket",
      dependencies: [
        "CResumableSocket",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableWire",
      dependencies: [
        "CResumableProto",
        .product(name: "NIOCore", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableRedis",
      dependencies: [
        "CHiredis",
        "CResumableSocket",
        "ResumableSocket",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableCore",
      dependencies: [
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumablePlugins",
      dependencies: [
        "ResumableCore",
        .product(name: "Subprocess", package: "swift-subprocess"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableStore",
      dependencies: [
        "ResumableCore",
        "ResumableRedis",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableServer",
      dependencies: [
        "ResumableSocket",
        "ResumableCore",
        "ResumableStore",
        "ResumableRedis",
        "ResumableWire",
        "ResumableMetrics",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableMetrics",
      dependencies: [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableClient",
      dependencies: [
        "ResumableSocket",
        "ResumableWire",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableBench",
      dependencies: [
        "ResumableClient",
        "ResumableCore",
        "ResumableRedis",
        "ResumableStore",
        "ResumableWire",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableCLI",
      dependencies: [
        "ResumableBench",
        "ResumableCore",
        "ResumableServer",
        "ResumableClient",
        "ResumableWire",
        "ResumableRedis",
        "ResumableMetrics",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "resumable",
      dependencies: ["ResumableCLI", "ResumableCore", "ResumablePlugins"],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ResumableTestSupport",
      // ResumableClient and ResumableWire for the helpers that drive `resumable serve` processes.
      dependencies: [
        "ResumableRedis", "ResumableCore", "ResumableClient", "ResumableWire",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableWireTests",
      dependencies: [
        "ResumableWire", "ResumableTestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOTestUtils", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableSocketTests",
      dependencies: ["ResumableSocket", "ResumableClient", "ResumableTestSupport"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableRedisTests",
      dependencies: [
        "ResumableRedis", "ResumableTestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableCoreTests",
      // The engine's tests run it against the real store on a private redis-server, or (the fast
      // tier) on the in-memory store and a manual clock.
      dependencies: [
        "ResumableCore", "ResumableStore", "ResumableRedis", "ResumableTestSupport",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumablePluginsTests",
      dependencies: [
        "ResumablePlugins", "ResumableCore", "ResumableTestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableStoreTests",
      dependencies: ["ResumableStore", "ResumableCore", "ResumableRedis", "ResumableTestSupport"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableClientTests",
      dependencies: [
        "ResumableClient",
        "ResumableSocket",
        "ResumableWire",
        // The scripted server accepts as the product's does (AcceptedConnections).
        "ResumableServer",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableCLITests",
      // The command line's pieces, and the `resumable` executable end to end, as processes.
      dependencies: [
        "ResumableCLI", "ResumableClient", "ResumableWire", "ResumableRedis", "ResumableTestSupport",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableBenchTests",
      dependencies: ["ResumableBench"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ResumableServerTests",
      // ResumableCLI for its rendering of a run's state, checked against a live server.
      dependencies: [
        "ResumableServer", "ResumableClient", "ResumableWire", "ResumableCore",
        "ResumableStore", "ResumableRedis", "ResumableTestSupport", "ResumableBench", "ResumableCLI",
        "ResumablePlugins",
      ],
      swiftSettings: swiftSettings
    ),
  ]
)

// libFuzzer targets, only with RESUMABLE_FUZZ=1 (`make fuzz` builds them with
// -sanitize=fuzzer,address into .build-fuzz; see Fuzz/README.md).
if Context.environment["RESUMABLE_FUZZ"] == "1" {
  let fuzzSettings = swiftSettings
  package.targets += [
    .target(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
    .executableTarget(
      name: "FuzzFrames",
      dependencies: [
        "CLibFuzzer", "ResumableWire",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
      ],
      path: "Fuzz/FuzzFrames", swiftSettings: fuzzSettings),
    .executableTarget(name: "FuzzMessages", dependencies: ["CLibFuzzer", "ResumableWire"], path: "Fuzz/FuzzMessages", swiftSettings: fuzzSettings),
    .executableTarget(name: "FuzzDefinitions", dependencies: ["CLibFuzzer", "ResumableCore"], path: "Fuzz/FuzzDefinitions", swiftSettings: fuzzSettings),
  ]
  package.products += ["FuzzFrames", "FuzzMessages", "FuzzDefinitions"].map { .executable(name: $0, targets: [$0]) }
}
