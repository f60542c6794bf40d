// swift-tools-version:6.1
import PackageDescription

/// meshd: a gossip-based, peer-to-peer, self-healing mesh agent.
/// The module list follows docs/DESIGN.md; a module imports only what is below it.
let package = Package(
    name: "meshd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meshd", targets: ["meshd"]),
        .executable(name: "meshctl", targets: ["meshctl"]),
        .executable(name: "meshsim", targets: ["meshsim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // The HTTP API server (routing, HTTP/1.1 codec, graceful shutdown as a Service).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // Spawning supervised processes in their own process group.
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        // TLS for the API (Hummingbird's TLS channel builds on it already).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // HTTP field names for the API's own headers (Hummingbird builds on it already).
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // System libraries (Debian: libsodium-dev, libsqlite3-dev), found with pkg-config.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),

        // Identifiers, limits and errors shared by every layer.
        .target(name: "MeshCore"),
        // Frames, codec, sealing (cluster key) and signing (node key).
        .target(name: "MeshWire", dependencies: ["MeshCore", "CSodium"]),
        // SWIM + Lifeguard membership: a pure state machine (no socket, clock or random source).
        .target(name: "Membership", dependencies: ["MeshCore", "MeshWire"]),
        // One SQLite connection with prepared statements and typed errors, shared by the stores.
        .target(name: "SQLiteStore", dependencies: ["CSQLite"]),
        // Signed events, the store protocol, and scuttlebutt anti-entropy (a pure state machine).
        .target(name: "EventLog", dependencies: ["MeshCore", "MeshWire"]),
        // Workload placement: a pure, deterministic function of specs, nodes and placements.
        .target(name: "Scheduler", dependencies: ["MeshCore"]),
        // Raft with pre-vote and check-quorum (a pure state machine); the control state it
        // replicates holds the scheduler's workload specs and placements.
        .target(name: "Consensus", dependencies: ["MeshCore", "MeshWire", "EventLog", "Scheduler"]),
        // The SQLite stores of the pure cores: the event log's and Raft's.
        .target(name: "Storage", dependencies: ["MeshCore", "MeshWire", "SQLiteStore", "EventLog", "Consensus"]),
        // The HTTP API's JSON types and their Prometheus rendering, shared by meshd and meshctl
        // (Foundation only, so meshctl links no server code).
        .target(name: "MeshAPI"),
        // A client of the HTTP API (Foundation's URLSession) and meshctl's table views.
        .target(name: "MeshClient", dependencies: ["MeshAPI"]),
        // Starts, stops, restarts and adopts processes; captures and rotates their output.
        .target(name: "Supervisor", dependencies: [
            "MeshCore",
            .product(name: "Subprocess", package: "swift-subprocess"),
        ], exclude: ["README.md"]),
        // Node and process statistics from /proc and /sys; local SQLite history; Prometheus text.
        .target(name: "Stats", dependencies: ["MeshCore", "SQLiteStore"], exclude: ["README.md"]),
        // The runtime: configuration, identity, sockets, timers, and the HTTP routes.
        .target(name: "MeshAgent", dependencies: [
            "MeshCore", "MeshWire", "Membership", "EventLog", "Consensus", "Storage", "Scheduler", "MeshAPI", "Supervisor", "Stats",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            // TLS for an API that is not on loopback (NIOSSL, which Hummingbird already builds).
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),

        .executableTarget(name: "meshd", dependencies: [
            "MeshAgent",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "meshctl", dependencies: [
            "MeshWire", "MeshAPI", "MeshClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Deterministic simulator: virtual clock and network, faults, invariants, reports.
        .target(name: "MeshSimulation", dependencies: ["MeshCore", "MeshWire", "Membership", "EventLog", "Consensus", "Scheduler"]),
        .executableTarget(name: "meshsim", dependencies: [
            "MeshSimulation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "meshbench", dependencies: ["MeshWire", "CSodium"],
                          path: "benchmarks/meshbench"),
        .executableTarget(name: "supbench", dependencies: ["Supervisor"], path: "benchmarks/supbench"),
        .executableTarget(name: "statsbench", dependencies: ["Stats"], path: "benchmarks/statsbench"),
        .executableTarget(name: "eventbench", dependencies: ["EventLog", "Storage"], path: "benchmarks/eventbench"),
        .executableTarget(name: "schedbench", dependencies: ["Scheduler", "MeshCore"], path: "benchmarks/schedbench"),

        // The test suites' shared helpers (one polling loop for real-clock tests).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "MeshCoreTests", dependencies: ["MeshCore"]),
        .testTarget(name: "MeshWireTests", dependencies: ["MeshWire", "CSodium"]),
        .testTarget(name: "MembershipTests", dependencies: ["Membership"]),
        .testTarget(name: "EventLogTests", dependencies: ["EventLog", "Storage", "SQLiteStore", "CSQLite"]),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "Storage", "Scheduler", "CSQLite", "SQLiteStore"]),
        .testTarget(name: "SupervisorTests", dependencies: ["TestSupport", "Supervisor"]),
        .testTarget(name: "StatsTests", dependencies: ["Stats", "MeshCore"]),
        .testTarget(name: "SchedulerTests", dependencies: ["Scheduler", "MeshCore"]),
        .testTarget(name: "MeshSimulationTests", dependencies: ["MeshSimulation", "Consensus", "Scheduler"]),
        .testTarget(name: "MeshAgentTests", dependencies: ["TestSupport", "MeshAgent", "Storage", "MeshAPI", "Supervisor", "Consensus", "Scheduler"]),
        // Golden/: the committed meshctl output its golden tests compare with (not a resource:
        // the tests read and rewrite it in the source tree).
        .testTarget(name: "MeshAPITests", dependencies: ["MeshAPI", "MeshClient"], exclude: ["Golden"]),
        // Starts real meshd processes; scripts/test.sh builds them first.
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "MeshAPI", "MeshClient", "MeshWire"]),
    ],
    swiftLanguageModes: [.v6]
)
