// swift-tools-version: 6.1
// AST: an automated swing-trading system run as a supervision tree of processes.
// The module map is explained in README.md.
import PackageDescription

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]
let log: Target.Dependency = .product(name: "Logging", package: "swift-log")
let lifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

/// Worker executables: one per process, each a thin `main` over ASTRuntime.
let workers = ["ast-marketdata", "ast-strategy", "ast-risk", "ast-broker", "ast-reconciler", "ast-notifier"]
/// Dependencies a worker needs beyond the shared ones.
/// ast-risk, ast-reconciler and ast-broker restore their cores with ASTReplay's folds (the same ones replay and reports use).
let workerExtras: [String: [Target.Dependency]] = [
    "ast-notifier": ["ASTNotify", "ASTTelegram"], "ast-risk": ["ASTReplay"], "ast-reconciler": ["ASTReplay"], "ast-broker": ["ASTReplay"],
]

let package = Package(
    name: "AST",
    platforms: [.macOS(.v15)],
    products: (workers + ["astd", "astctl", "ast"]).map { .executable(name: $0, targets: [$0]) },
    // Exact versions: two builds a month apart must be the same build.
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
    ],
    targets: [
        // C libraries, one small system-library target each.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Pure cores: no sockets, files or clocks.
        .target(name: "ASTCore"),
        // The message catalog and the values it carries between processes (intent groups, approvals,
        // alerts, lifecycle events, portfolio snapshots ...): the contracts the cores share.
        .target(name: "ASTMessages", dependencies: ["ASTCore"]),
        // The transport: frames, envelopes, endpoint policy, connection state machines. No domain.
        .target(name: "ASTWire", dependencies: ["ASTCore", "ASTMessages", .product(name: "NIOCore", package: "swift-nio")]),

        .target(name: "ASTSupervision", dependencies: ["ASTCore", "ASTMessages"]),
        .target(name: "ASTRisk", dependencies: ["ASTCore", "ASTMessages"]),
        // The order state machine, the portfolio and reconciliation (M4).
        .target(name: "ASTExecution", dependencies: ["ASTCore", "ASTMessages"]),
        // The paper broker's simulated exchange (M4).
        .target(name: "ASTPaperBroker", dependencies: ["ASTCore"]),
        // Incremental technical indicators and their registry (M5).
        .target(name: "ASTIndicators", dependencies: ["ASTCore"]),
        // The NYSE trading calendar and the daily schedule in America/New_York (M5).
        .target(name: "ASTCalendar", dependencies: ["ASTCore"]),
        // The strategy pipeline: universe, regime, scanner and detectors, event guard, sizing,
        // strategy engine -> intent groups for the risk gate; trading modes (M5).
        .target(name: "ASTStrategy", dependencies: ["ASTCore", "ASTIndicators", "ASTCalendar", "ASTMessages"]),
        // Per-run reports from the journals, JSON and Markdown (M5).
        .target(name: "ASTReport", dependencies: ["ASTJournal", "ASTReplay", "ASTWire", "ASTExecution", "ASTRisk", "ASTStrategy", "ASTCore", "ASTCalendar"]),
        // The notifier's outbox: delivery state machine, pacing, coalescing, Telegram text (M6).
        .target(name: "ASTNotify", dependencies: ["ASTCore", "ASTMessages"]),
        // The chaos drill's core: the seeded round planner, the invariant checker, the report (M7).
        .target(name: "ASTDrill", dependencies: ["ASTCore"]),
        // The in-process trading engine (M8): the pure cores composed session by session on the
        // NYSE calendar, single-threaded and deterministic; the heart of the backtester.
        .target(name: "ASTEngine", dependencies: ["ASTCore", "ASTCalendar", "ASTStrategy", "ASTIndicators", "ASTRisk", "ASTPaperBroker", "ASTExecution"]),

        // Shells: I/O around the cores.
        // fork/exec with LISTEN_PID set to the child's own pid and PR_SET_PDEATHSIG, in C because
        // only async-signal-safe calls are allowed between fork and exec.
        .target(name: "CSpawn"),
        .target(name: "ASTProcesses", dependencies: ["ASTCore", "CSpawn", log]),
        .target(name: "ASTJournal", dependencies: ["ASTCore", "CCrypto", log, .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        .target(name: "ASTBus", dependencies: ["ASTCore", "ASTWire", "ASTJournal", "ASTRisk", "CSpawn", "CCrypto", log] + nio),
        .target(name: "ASTRuntime", dependencies: [
            "ASTCore", "ASTWire", "ASTBus", "ASTJournal", "ASTSupervision", "ASTRisk", "ASTPaperBroker", "ASTStrategy", "ASTCalendar", "CSystemd", log, lifecycle,
            .product(name: "Yams", package: "Yams"),
        ]),

        // The Telegram Bot API client over HTTPS (async-http-client, certificate verification).
        .target(name: "ASTTelegram", dependencies: [
            "ASTNotify", "ASTRuntime", log, .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOCore", package: "swift-nio"),
        ]),

        // Market data (M5): bar store (SQLite), CSV and Polygon ingest, validation, replay feed,
        // and the bundled, seeded data set.
        .target(name: "ASTMarketData", dependencies: [
            "ASTCore", "ASTCalendar", log, .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),

        // Glue between market data and the strategy: reads the bar store into the pipeline's
        // input as of a date (used by ast-strategy's 09:00 scan and by `ast scan`).
        .target(name: "ASTScanInput", dependencies: ["ASTCore", "ASTCalendar", "ASTMarketData", "ASTStrategy", "ASTRisk", log]),
        // Replay (M7): the merged timeline of every journal and the re-execution of recorded
        // inputs through the cores (`astctl replay`), and replay bundles (`astctl journal export`).
        .target(name: "ASTReplay", dependencies: ["ASTCore", "ASTJournal", "ASTWire", "ASTRisk", "ASTExecution", "ASTPaperBroker", "CCrypto"]),

        // The engine's market from a bar store or a generated universe (for `ast engine`, tests, benchmarks).
        .target(name: "ASTEngineData", dependencies: ["ASTEngine", "ASTMarketData", "ASTStrategy", "ASTCalendar", "ASTCore"]),

        // Test support shared by test targets (temporary trees, process harness, fake Telegram).
        .target(name: "ASTTestKit", dependencies: [
            "ASTCore", "ASTWire", "ASTBus", "ASTJournal", "ASTRuntime", log,
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOHTTP1", package: "swift-nio"),
        ] + nio),

        // Executables: one per process.
        .executableTarget(name: "astd", dependencies: ["ASTRuntime", "ASTSupervision", "ASTProcesses", "ASTBus", "ASTJournal", "ASTWire", lifecycle] + nio),
        .executableTarget(name: "astctl", dependencies: ["ASTRuntime", "ASTBus", "ASTJournal", "ASTWire", "ASTCore", "ASTReport", "ASTReplay", "ASTDrill", "ASTExecution", argumentParser]),
        // The research command line: ingest, scan a date, compute indicators, print the calendar.
        .executableTarget(name: "ast", dependencies: [
            "ASTRuntime", "ASTMarketData", "ASTScanInput", "ASTStrategy", "ASTIndicators", "ASTCalendar", "ASTCore", "ASTRisk",
            "ASTPaperBroker", "ASTEngine", "ASTEngineData", "ASTExecution", "ASTJournal", "ASTReport", argumentParser, log,
        ]),
        // libFuzzer targets (M9): the parsers and every core's input handler, fed arbitrary bytes.
        // `ast-fuzz` is libFuzzer's harness when built by scripts/fuzz (-sanitize=fuzzer), and a
        // corpus replayer otherwise.
        .target(name: "ASTFuzzTargets", dependencies: [
            "ASTCore", "ASTWire", "ASTRisk", "ASTPaperBroker", "ASTExecution", "ASTSupervision", "ASTNotify", "ASTRuntime",
            "ASTMarketData", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .executableTarget(name: "ast-fuzz", dependencies: ["ASTFuzzTargets"]),
        // A bus peer used only by integration tests and benchmarks (sends/receives acknowledged messages).
        .executableTarget(name: "ast-testpeer", dependencies: ["ASTRuntime", "ASTBus", "ASTJournal", argumentParser]),
        .executableTarget(name: "ast-bench", dependencies: ["ASTWire", "ASTBus", "ASTJournal", "ASTRuntime", "ASTCore", "ASTRisk", "ASTSupervision", "ASTExecution", "ASTPaperBroker", "ASTReplay", "ASTTestKit", "ASTIndicators", "ASTStrategy", "ASTMarketData", "ASTScanInput", "ASTCalendar", "ASTEngine", "ASTEngineData", argumentParser, log, .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "GRDBSQLite", package: "GRDB.swift")]),
    ] + workers.map { .executableTarget(name: $0, dependencies: ["ASTRuntime", "ASTBus", "ASTWire", "ASTJournal", "ASTRisk", "ASTSupervision", "ASTExecution", "ASTPaperBroker", "ASTStrategy", "ASTMarketData", "ASTScanInput", "ASTCalendar", "ASTReport", log] + (workerExtras[$0] ?? [])) } + [
        .testTarget(name: "ASTCoreTests", dependencies: ["ASTCore"]),
        .testTarget(name: "ASTWireTests", dependencies: [
            "ASTWire", "ASTSupervision", "ASTRisk", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOTestUtils", package: "swift-nio"),
        ]),
        .testTarget(name: "ASTJournalTests", dependencies: ["ASTJournal", "ASTTestKit"]),
        .testTarget(name: "ASTRuntimeTests", dependencies: ["ASTRuntime", "ASTTestKit"]),
        .testTarget(name: "ASTBusTests", dependencies: ["ASTBus", "ASTTestKit"]),
        .testTarget(name: "ASTSupervisionTests", dependencies: ["ASTSupervision"]),
        .testTarget(name: "ASTRiskTests", dependencies: ["ASTRisk"]),
        .testTarget(name: "ASTExecutionTests", dependencies: ["ASTExecution", "ASTCore", "ASTRisk"]),
        .testTarget(name: "ASTPaperBrokerTests", dependencies: ["ASTPaperBroker", "ASTCore"]),
        .testTarget(name: "ASTIndicatorsTests", dependencies: ["ASTIndicators", "ASTCore"], exclude: ["Fixtures"]),
        .testTarget(name: "ASTCalendarTests", dependencies: ["ASTCalendar", "ASTCore"]),
        .testTarget(name: "ASTStrategyTests", dependencies: ["ASTStrategy", "ASTCore", "ASTIndicators", "ASTCalendar", "ASTRisk"]),
        .testTarget(name: "ASTProcessesTests", dependencies: ["ASTProcesses", "ASTTestKit"]),
        .testTarget(name: "ASTReportTests", dependencies: ["ASTReport", "ASTReplay", "ASTJournal", "ASTExecution", "ASTRisk", "ASTStrategy", "ASTWire", "ASTCore", "ASTCalendar", "ASTTestKit", log, .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ASTDrillTests", dependencies: ["ASTDrill", "ASTCore"]),
        .testTarget(name: "ASTNotifyTests", dependencies: ["ASTNotify", "ASTRisk", "ASTSupervision", "ASTCore"]),
        .testTarget(name: "ASTTelegramTests", dependencies: ["ASTTelegram", "ASTNotify", "ASTTestKit", "ASTRuntime", "ASTRisk", "ASTCore"]),
        .testTarget(name: "ASTMarketDataTests", dependencies: ["ASTMarketData", "ASTCalendar", "ASTCore", "ASTTestKit", "CCrypto", log]),
        .testTarget(name: "ASTScanInputTests", dependencies: ["ASTScanInput", "ASTMarketData", "ASTStrategy", "ASTRisk", "ASTCalendar", "ASTCore", "ASTTestKit", log]),
        .testTarget(name: "ASTCLITests", dependencies: ["ASTTestKit", "ASTIndicators", "ASTMarketData", "ASTCalendar", "ASTCore", log], exclude: ["Fixtures"]),
        .testTarget(name: "ASTEngineTests", dependencies: ["ASTEngine", "ASTEngineData", "ASTRuntime", "ASTStrategy", "ASTRisk", "ASTPaperBroker", "ASTExecution", "ASTCalendar", "ASTCore", "ASTMarketData", log]),
        .testTarget(name: "ASTReplayTests", dependencies: ["ASTReplay", "ASTJournal", "ASTRisk", "ASTExecution", "ASTPaperBroker", "ASTWire", "ASTCore", "ASTTestKit", log, .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ASTFuzzTests", dependencies: ["ASTFuzzTargets"]),
        // The shells' own restore (the worker executables' code) against replay's and the report's.
        .testTarget(name: "ShellRestoreTests", dependencies: [
            "ast-risk", "ast-reconciler", "ast-broker", "ASTReplay", "ASTReport", "ASTJournal", "ASTRisk", "ASTExecution", "ASTPaperBroker",
            "ASTWire", "ASTCore", "ASTTestKit", log,
        ]),
        .testTarget(name: "IntegrationTests", dependencies: ["ASTTestKit", "ASTBus", "ASTJournal", "ASTRuntime", "ASTNotify", "ASTExecution", "ASTReport", "ASTDrill", .product(name: "GRDB", package: "GRDB.swift")]),
    ],
    swiftLanguageModes: [.v6]
)
