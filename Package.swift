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
/// swift-metrics' API (counters, gauges, timers); the backend (swift-prometheus) is bootstrapped once per process in ASTProcessKit.
let metrics: Target.Dependency = .product(name: "CoreMetrics", package: "swift-metrics")

/// Worker executables: one per process, each a thin `main` over ASTRuntime.
let workers = ["ast-marketdata", "ast-strategy", "ast-risk", "ast-broker", "ast-reconciler", "ast-notifier"]
/// Dependencies a worker needs beyond the shared ones.
/// ast-risk, ast-reconciler and ast-broker restore their cores with ASTReplay's folds (the same ones replay and reports use).
let workerExtras: [String: [Target.Dependency]] = [
    "ast-notifier": ["ASTNotify", "ASTTelegram"], "ast-risk": ["ASTReplay"], "ast-reconciler": ["ASTReplay"], "ast-broker": ["ASTReplay", "ASTTWS", "ASTTWSClient", "ASTIBKR", "ASTAlpaca", "ASTAlpacaClient", "ASTTelegram"],
]

let package = Package(
    name: "AST",
    platforms: [.macOS(.v15)],
    products: (workers + ["ast-web", "astd", "astctl", "ast"]).map { .executable(name: $0, targets: [$0]) },
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
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    ],
    targets: [
        // C library: libsystemd (sd_notify, LISTEN_FDS, journald), one small system-library target.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // C library: libcrypto, for tests only now: CSHA256's digests are checked against its SHA-256.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Pure core: shared values: timestamps (integer ns, UTC), roles and process identities, the clock protocol;
        // exact `Price`, `Money`, `Percent`, `Quantity`, `Symbol`, intent and approval ids; bars, order specs,
        // brackets, fills, execution reports, a broker's account state, reconciliation summaries; the one JSON reader
        // for outside answers (bounded, numbers kept as text, duplicate names refused) that Alpaca and Polygon share;
        // the one YAML reader (the configuration's subset, no Foundation; anchors, aliases, tags refused).
        .target(name: "ASTCore"),
        // Pure core: the message catalog (`Message`, `MessageType`, delivery classes) and the values it carries
        // between processes and cores: intent groups, approvals, decisions, alerts, lifecycle events, portfolio
        // snapshots, marks, Safe Mode states and reason codes, status and replay messages. Depends only on ASTCore.
        .target(name: "ASTMessages", dependencies: ["ASTCore"]),
        // Pure core: the transport: frame codec, envelope, endpoint policy, connection state machines, back-off.
        // Knows no domain (it carries ASTMessages' catalog).
        .target(name: "ASTWire", dependencies: ["ASTCore", "ASTMessages", .product(name: "NIOCore", package: "swift-nio")]),

        // Pure core: child specs, the restart policy state machine (OTP-style intensity, per-child budgets).
        .target(name: "ASTSupervision", dependencies: ["ASTCore", "ASTMessages"]),
        // Pure core: the risk gate and Safe Mode: rules with their reason codes, decisions, transitions, resume
        // conditions.
        .target(name: "ASTRisk", dependencies: ["ASTCore", "ASTMessages"]),
        // Pure core: brackets from approvals, the order state machine (a transition table), the order book, the
        // portfolio derived from fills, reconciliation and its findings, the reconciler core; the `BrokerAdapter`
        // interface.
        .target(name: "ASTExecution", dependencies: ["ASTCore", "ASTMessages"]),
        // Pure core: the simulated exchange behind `broker@paper`: fill rules, brackets and OCA groups, partial
        // fills, slippage, commissions, injected broker events.
        .target(name: "ASTPaperBroker", dependencies: ["ASTCore", "ASTCalendar"]),
        // Pure core: incremental indicators (SMA, EMA, RSI, MACD, ATR, Bollinger, ADX, SuperTrend, KDJ), their spec
        // parser and the registry that computes each once per bar per symbol.
        .target(name: "ASTIndicators", dependencies: ["ASTCore"]),
        // Pure core: the NYSE calendar (sessions, holidays, early closes and one-off closures 2000-2035),
        // America/New_York time in code, the daily schedule and its scheduler core.
        .target(name: "ASTCalendar", dependencies: ["ASTCore"]),
        // Pure core: the strategy pipeline: universe filter, market regime, scanner with pluggable pattern detectors
        // and a filter chain, event guard, strategy engine (bracket intent groups, position sizing), the plugin
        // registry, `ScanResult`, trading modes (`DRY_RUN`/`PAPER`/`LIVE`).
        .target(name: "ASTStrategy", dependencies: ["ASTCore", "ASTIndicators", "ASTCalendar", "ASTMessages"]),
        // Pure core: the notifier's outbox state machine (pacing, retries, coalescing, dedupe), Telegram HTML
        // escaping and splitting, lifecycle alerts.
        .target(name: "ASTNotify", dependencies: ["ASTCore", "ASTMessages"]),
        // Pure core: the TWS API client's protocol (Interactive Brokers): framing, handshake and version negotiation,
        // encoders and decoders for orders, executions, positions and account state, error-code outcomes, the
        // connection state machine with pacing and reconnect back-off. No sockets: the shell carries out its actions.
        .target(name: "ASTTWS", dependencies: ["ASTCore", "ASTCalendar"]),
        // Pure core: the Alpaca Trading API client's protocol: request building (brackets, listings, lookups by client
        // order id, cancels, fill activities), answers read into exact values and outcomes, the `trade_updates` stream's
        // state machine, the 200/min token bucket and 429 handling; the market-data API's daily bars (paged requests,
        // answers read into bars). JSON through ASTCore's parser. No Foundation, no sockets.
        .target(name: "ASTAlpaca", dependencies: ["ASTCore", "ASTCalendar"]),
        // Pure core: the chaos drill: the seeded round planner, the invariant checker over a round's observations,
        // the drill report.
        .target(name: "ASTDrill", dependencies: ["ASTCore"]),
        // Pure core: the in-process trading engine: the strategy pipeline, risk gate, paper exchange and reconciler
        // composed session by session on the NYSE calendar, single-threaded and deterministic (the backtester's
        // heart).
        .target(name: "ASTEngine", dependencies: ["ASTCore", "ASTCalendar", "ASTStrategy", "ASTIndicators", "ASTRisk", "ASTPaperBroker", "ASTExecution"]),
        // Pure core: the backtester's results: trades from fills, the daily equity series, the statistics (formulas in
        // README), the single-symbol research loop (`sma_cross`), and the texts of trades.csv, equity.csv,
        // summary.json, report.md and the self-contained report.html (SVG drawn here). No file, clock or socket.
        .target(name: "ASTBacktest", dependencies: ["ASTCore", "ASTCalendar", "ASTEngine", "ASTPaperBroker"]),

        // Shell (C): fork/exec with only async-signal-safe calls between them (LISTEN_PID set to the child's own pid,
        // PR_SET_PDEATHSIG), SIGCHLD wake-up, SCM_CREDENTIALS, sealed memfds, getrandom.
        .target(name: "CSpawn"),
        // Shell (C): SHA-256 (FIPS 180-4) with the x86 SHA extensions when the CPU has them, portable C otherwise: the
        // journal's hash chain, approval signatures and bundle digests without libcrypto (3.4 MB resident in every
        // process that maps it; BENCHMARKS.md, "M11 — astd's memory"). Optimised in debug builds too.
        .target(name: "CSHA256", cSettings: [.unsafeFlags(["-O2"])]),
        // Shell: the process side of astd: spawn thread, reaper (child subreaper), notify socket (manager side of
        // sd_notify), signals.
        .target(name: "ASTProcesses", dependencies: ["ASTCore", "CSpawn", log]),
        // Shell: the SQLite WAL journal: hash chain, durability classes, readers (also read-only, for tools), verify;
        // `EntryTypes`, every process's journal entry type names in one place.
        .target(name: "ASTJournal", dependencies: ["ASTCore", "CSHA256", log, metrics, .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // Shell: the bus on SwiftNIO: `BusServer` (admission by kernel pid and uid, journaling, acks, dedup),
        // `BusClient` (reconnect, outbox), Unix sockets; astd's peer table, approval signatures, the security alarm.
        .target(name: "ASTBus", dependencies: ["ASTCore", "ASTWire", "ASTJournal", "ASTMessages", "CSpawn", "CSHA256", log, metrics] + nio),
        // Shell (reads files, sockets to systemd): what every process shares, astd included, knowing no trading domain:
        // the configuration file (YAML layers, `AST_*` overrides, decoding that reports every problem with its source,
        // validation) and the tree-wide sections (`TreeConfig`: environment, directories, logging, bus, journal,
        // supervisor, trading mode), secrets and start-up checks, systemd notify/listen/watchdog, journald and stderr
        // logging, the system clock, the disk budget, exit codes; the metrics backend (swift-prometheus, bootstrapped once per
        // process) and its snapshot file under `<runtime_dir>/metrics/` that ast-web serves.
        .target(name: "ASTProcessKit", dependencies: [
            "ASTCore", "ASTMessages", "ASTJournal", "ASTBus", "ASTSupervision", "CSystemd", log, metrics,
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Shell: the worker runtime (bus socket, journal, READY/watchdog, graceful stop; `--check-config`) and the
        // whole configuration file as the workers read it (`ASTConfig`: the tree's sections and every domain's:
        // risk, clock, strategy, market data, paper broker, notifier); re-exports ASTProcessKit.
        .target(name: "ASTRuntime", dependencies: [
            "ASTProcessKit", "ASTCore", "ASTWire", "ASTBus", "ASTJournal", "ASTSupervision", "ASTRisk", "ASTPaperBroker", "ASTStrategy", "ASTCalendar", "CSystemd", log, lifecycle, metrics,
        ]),

        // Shell: the one TLS and HTTPS client setup of every client of an outside service (full certificate verification,
        // TLS 1.2 at least, an optional CA file, no redirects, timeouts).
        .target(name: "ASTHTTPS", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),

        // Shell: the Telegram Bot API client over HTTPS (async-http-client, NIOSSL with certificate verification):
        // `sendMessage`, answers read into outcomes, token redaction.
        .target(name: "ASTTelegram", dependencies: [
            "ASTNotify", "ASTRuntime", "ASTHTTPS", log, .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOCore", package: "swift-nio"),
        ]),

        // Shell: the Alpaca Trading API over HTTPS (async-http-client, certificate verification, no redirects) and its
        // `trade_updates` WebSocket (NIOWebSocket over NIOSSL), wrapped around the ASTAlpaca core: paper and live base
        // URLs checked against the trading mode, credentials from `$CREDENTIALS_DIRECTORY` only, the token bucket in front
        // of every call, brackets placed at most once (lookup by client order id, never a blind retry); the market-data
        // API's daily bars for `ast ingest --alpaca` (pages, the same credentials and rate limiting).
        .target(name: "ASTAlpacaClient", dependencies: [
            "ASTAlpaca", "ASTCore", "ASTCalendar", "ASTProcessKit", "ASTHTTPS", .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ] + nio),

        // Shell: market data: the bar store (SQLite WAL, raw and back-adjusted reads), CSV and Polygon ingest,
        // validation reports, the stale-data check, the wall-clock feed's core, the replay feed, the seeded bundled
        // universe.
        .target(name: "ASTMarketData", dependencies: [
            "ASTCore", "ASTCalendar", "ASTHTTPS", log, .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),

        // Shell: glue between market data and the strategy: reads the bar store into a `ScanInput` as of a date (no
        // look-ahead), for ast-strategy's 09:00 scan and `ast scan`.
        .target(name: "ASTScanInput", dependencies: ["ASTCore", "ASTCalendar", "ASTMarketData", "ASTStrategy", "ASTRisk", log]),
        // Shell: the one restore fold per core (`RiskJournalFold`, `ReconcilerJournalFold`, `PaperJournalFold`) that
        // shells, replay and reports share; the merged timeline of every journal, verify-by-re-execution, replay
        // bundles (reads journals and files).
        .target(name: "ASTReplay", dependencies: ["ASTCore", "ASTJournal", "ASTWire", "ASTRisk", "ASTExecution", "ASTPaperBroker", "ASTNotify", "CSHA256"]),
        // Shell (not a pure core: it reads SQLite journals and writes files): per-run and daily reports from the
        // journals, streamed: candidates, intents, risk decisions, orders, fills, positions, P&L and equity, Safe
        // Mode transitions, reconciliations, problems; JSON and Markdown.
        .target(name: "ASTReport", dependencies: ["ASTJournal", "ASTReplay", "ASTWire", "ASTExecution", "ASTRisk", "ASTStrategy", "ASTCore", "ASTCalendar"]),

        // Shell: the SwiftNIO side of the TWS API client (Interactive Brokers): the TCP socket, the clock and the
        // wake-ups the `ASTTWS` connection state machine asks for; it makes no protocol decision of its own.
        .target(name: "ASTTWSClient", dependencies: ["ASTTWS", "ASTCore", log] + nio),
        // Shell: the Interactive Brokers adapter behind `BrokerAdapter` (journal-first, orderRef recovery), shared by
        // `ast-broker --instance ibkr` and `ast ibkr test-order`.
        .target(name: "ASTIBKR", dependencies: [
            "ASTTWS", "ASTTWSClient", "ASTExecution", "ASTJournal", "ASTRuntime", "ASTProcessKit", "ASTBus", "ASTWire", "ASTCore", log,
        ]),
        // Shell: the engine's market (`EngineMarket`) from a bar store or a generated universe (for `ast engine`,
        // tests, benchmarks).
        .target(name: "ASTEngineData", dependencies: ["ASTEngine", "ASTMarketData", "ASTStrategy", "ASTCalendar", "ASTCore"]),

        // Test support shared by test targets: temporary trees, child processes, a raw bus peer, a fake Telegram Bot
        // API over HTTPS (sendMessage, getMe, long-polled getUpdates), a fake Polygon API (aggregates, indices
        // aggregates, grouped daily, tickers, ticker overview, splits, dividends, full-market snapshot; scripted
        // failures per path), a fake TWS API socket (handshake, brackets, fills in parts, rejections, 1100/1102, client id
        // in use, pacing violations counted), a fake Alpaca Trading API over HTTPS with its trade_updates WebSocket (brackets
        // accepted, filled in parts, rejected; duplicate client order ids refused; 429s; dropped streams; broker cancels)
        // and its market-data daily bars (pages, raw or split-adjusted), written from the providers' documentation.
        .target(name: "ASTTestKit", dependencies: [
            "ASTCore", "ASTWire", "ASTBus", "ASTJournal", "ASTRuntime", "ASTMarketData", "ASTCalendar", log,
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ] + nio),

        // Shell: what an operator asks a running tree, shared by astctl and ast-web: the tree's status as
        // `astctl status` shows it (astd's tree, Safe Mode, the last reconciliation, the notifier, each bus link),
        // the broker's account, and the halt/resume/reconcile commands, over short-lived bus clients.
        .target(name: "ASTOperator", dependencies: ["ASTRuntime", "ASTBus", "ASTWire", "ASTMessages", "ASTJournal", "ASTCore", log]),
        // Shell: the dashboard (M15) on Hummingbird 2 (HTTPS when a certificate is configured): server-rendered pages,
        // the equity curve as SVG, intents and decisions, replay timelines and reports read from disk, the JSON API
        // under /api/v1 (its OpenAPI document beside it), Server-Sent Events, operator actions behind a bearer token.
        .target(name: "ASTWeb", dependencies: [
            "ASTOperator", "ASTRuntime", "ASTReport", "ASTReplay", "ASTMessages", "ASTWire", "ASTBus", "ASTJournal", "ASTCore", log,
            .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // Executable: the dashboard worker under astd (read-only, `on_crash: none`).
        .executableTarget(name: "ast-web", dependencies: ["ASTWeb", "ASTRuntime", "ASTWire", "ASTBus", "ASTMessages", "ASTCore"]),
        // Executable: the supervisor: runs the tree over ASTSupervision and ASTProcesses. Links no trading domain: it
        // reads the tree's sections (ASTProcessKit) and has the workers check the rest (`--check-config`).
        .executableTarget(name: "astd", dependencies: ["ASTProcessKit", "ASTSupervision", "ASTProcesses", "ASTBus", "ASTJournal", "ASTWire", "ASTMessages", "ASTCore", log, metrics],
            // Release: lld with packed relative relocations (RELR) and no exported dynamic symbols: 4.4 MB less resident
            // at start-up (BENCHMARKS.md, "M11 — astd's memory"); ASLR (PIE) is kept.
            linkerSettings: [
                .unsafeFlags(
                    ["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"],
                    .when(configuration: .release))
            ]),
        // Executable: the operator command line: `status`, `halt`, `resume`, `reconcile`, `broker state|inject`,
        // `drill`, `ping`, `journal verify|export`, `replay`, `report`.
        .executableTarget(name: "astctl", dependencies: ["ASTOperator", "ASTRuntime", "ASTBus", "ASTJournal", "ASTWire", "ASTCore", "ASTReport", "ASTReplay", "ASTDrill", "ASTExecution", argumentParser]),
        // Executable: the research command line: `ingest` (CSV, a directory, bundled, Polygon, Alpaca), `scan`, `indicators`, `calendar`, `engine`, `backtest`, `sweep`,
        // `ibkr check|test-order`.
        .executableTarget(name: "ast", dependencies: [
            "ASTRuntime", "ASTMarketData", "ASTScanInput", "ASTStrategy", "ASTIndicators", "ASTCalendar", "ASTCore", "ASTRisk",
            "ASTPaperBroker", "ASTEngine", "ASTEngineData", "ASTExecution", "ASTJournal", "ASTReport", "ASTBacktest", "ASTTWS", "ASTTWSClient",
            "ASTIBKR", "ASTAlpaca", "ASTAlpacaClient", argumentParser, log,
        ]),
        // libFuzzer targets (M9): the parsers and every core's input handler, fed arbitrary bytes.
        .target(name: "ASTFuzzTargets", dependencies: [
            "ASTCore", "ASTWire", "ASTRisk", "ASTPaperBroker", "ASTExecution", "ASTSupervision", "ASTNotify", "ASTRuntime",
            "ASTMarketData", "ASTTWS", "ASTAlpaca", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        // Executable: libFuzzer's harness when built by scripts/fuzz (-sanitize=fuzzer), a corpus replayer otherwise.
        .executableTarget(name: "ast-fuzz", dependencies: ["ASTFuzzTargets"]),
        // Executable: a bus peer used only by integration tests, the demo and benchmarks (sends and receives
        // acknowledged messages).
        // `fake-polygon` serves the production data set for scripts/chaos-systemd; `chaos-check DIR` checks a copy
        // of a tree's journals for an order placed twice or a fill lost.
        .executableTarget(name: "ast-testpeer", dependencies: ["ASTRuntime", "ASTBus", "ASTJournal", "ASTTestKit", "ASTCalendar", "ASTExecution", "ASTDrill", argumentParser]),
        // Executable: the benchmarks (`scripts/bench`).
        .executableTarget(name: "ast-bench", dependencies: ["ASTWire", "ASTBus", "ASTJournal", "ASTRuntime", "ASTCore", "ASTRisk", "ASTSupervision", "ASTExecution", "ASTPaperBroker", "ASTReplay", "ASTTestKit", "ASTIndicators", "ASTStrategy", "ASTMarketData", "ASTScanInput", "ASTCalendar", "ASTEngine", "ASTEngineData", argumentParser, log, .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // Executables: one per worker process; each is a thin `main` and a shell that wires its core to the bus and
        // the journal.
    ] + workers.map { .executableTarget(name: $0, dependencies: ["ASTRuntime", "ASTBus", "ASTWire", "ASTJournal", "ASTRisk", "ASTSupervision", "ASTExecution", "ASTPaperBroker", "ASTStrategy", "ASTMarketData", "ASTScanInput", "ASTCalendar", "ASTReport", log, metrics] + (workerExtras[$0] ?? [])) } + [
        .testTarget(name: "ASTCoreTests", dependencies: ["ASTCore"]),
        .testTarget(name: "ASTWireTests", dependencies: [
            "ASTWire", "ASTSupervision", "ASTRisk", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOTestUtils", package: "swift-nio"),
        ]),
        .testTarget(
            name: "ASTJournalTests", dependencies: ["ASTJournal", "ASTTestKit", "CSHA256", "CCrypto", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"]),
        // Yams (libyaml) is the oracle of YAMLDifferentialTests only: no product target reads YAML with it.
        .testTarget(name: "ASTRuntimeTests", dependencies: ["ASTRuntime", "ASTProcessKit", "ASTTestKit", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "ASTBusTests", dependencies: ["ASTBus", "ASTTestKit"]),
        .testTarget(name: "ASTSupervisionTests", dependencies: ["ASTSupervision"]),
        .testTarget(name: "ASTRiskTests", dependencies: ["ASTRisk"]),
        .testTarget(name: "ASTExecutionTests", dependencies: ["ASTExecution", "ASTCore", "ASTRisk"]),
        .testTarget(name: "ASTPaperBrokerTests", dependencies: ["ASTPaperBroker", "ASTCore", "ASTCalendar"]),
        .testTarget(name: "ASTIndicatorsTests", dependencies: ["ASTIndicators", "ASTCore"], exclude: ["Fixtures"]),
        .testTarget(name: "ASTCalendarTests", dependencies: ["ASTCalendar", "ASTCore"]),
        .testTarget(name: "ASTStrategyTests", dependencies: ["ASTStrategy", "ASTCore", "ASTIndicators", "ASTCalendar", "ASTRisk"]),
        .testTarget(name: "ASTProcessesTests", dependencies: ["ASTProcesses", "ASTTestKit"]),
        .testTarget(name: "ASTReportTests", dependencies: ["ASTReport", "ASTReplay", "ASTJournal", "ASTExecution", "ASTRisk", "ASTStrategy", "ASTWire", "ASTCore", "ASTCalendar", "ASTTestKit", log, .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ASTDrillTests", dependencies: ["ASTDrill", "ASTCore"]),
        .testTarget(name: "ASTAlpacaTests", dependencies: ["ASTAlpaca", "ASTCore"]),
        .testTarget(name: "ASTAlpacaClientTests", dependencies: [
            "ASTAlpacaClient", "ASTAlpaca", "ASTProcessKit", "ASTCore", "ASTCalendar", "ASTMarketData", "ASTTestKit", log,
        ]),
        .testTarget(name: "ASTTWSTests", dependencies: ["ASTTWS", "ASTTWSClient", "ASTCore", "ASTCalendar", "ASTTestKit", log] + nio),
        .testTarget(name: "ASTNotifyTests", dependencies: ["ASTNotify", "ASTRisk", "ASTSupervision", "ASTCore"]),
        .testTarget(name: "ASTTelegramTests", dependencies: ["ASTTelegram", "ASTNotify", "ASTTestKit", "ASTRuntime", "ASTRisk", "ASTCore"]),
        .testTarget(name: "ASTMarketDataTests", dependencies: ["ASTMarketData", "ASTHTTPS", "ASTCalendar", "ASTCore", "ASTTestKit", "CCrypto", log, .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ASTScanInputTests", dependencies: ["ASTScanInput", "ASTMarketData", "ASTStrategy", "ASTRisk", "ASTCalendar", "ASTCore", "ASTTestKit", log]),
        .testTarget(name: "ASTCLITests", dependencies: ["ASTTestKit", "ASTIndicators", "ASTMarketData", "ASTCalendar", "ASTCore", log], exclude: ["Fixtures"]),
        .testTarget(name: "ASTBacktestTests", dependencies: ["ASTBacktest", "ASTEngine", "ASTEngineData", "ASTRuntime", "ASTStrategy", "ASTRisk", "ASTPaperBroker", "ASTExecution", "ASTMarketData", "ASTCalendar", "ASTCore", "ASTTestKit"]),
        .testTarget(name: "ASTEngineTests", dependencies: ["ASTEngine", "ASTEngineData", "ASTRuntime", "ASTStrategy", "ASTRisk", "ASTPaperBroker", "ASTExecution", "ASTCalendar", "ASTCore", "ASTMarketData", log]),
        .testTarget(name: "ASTReplayTests", dependencies: ["ASTReplay", "ASTJournal", "ASTRisk", "ASTExecution", "ASTPaperBroker", "ASTWire", "ASTCore", "ASTTestKit", log, .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ASTFuzzTests", dependencies: ["ASTFuzzTargets"]),
        .testTarget(name: "ASTWebTests", dependencies: [
            "ASTWeb", "ASTRuntime", "ASTTestKit", "ASTCore", "ASTProcessKit", metrics, .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The shells' own restore (the worker executables' code) against replay's and the report's.
        .testTarget(name: "ShellRestoreTests", dependencies: [
            "ast-risk", "ast-reconciler", "ast-broker", "ast-strategy", "ast-marketdata", "ast-notifier", "ASTNotify", "ASTReplay", "ASTReport", "ASTJournal", "ASTRisk", "ASTExecution", "ASTPaperBroker",
            "ASTWire", "ASTCore", "ASTTestKit", "ASTIBKR", "ASTTWS", "ASTAlpaca", "ASTRuntime", log,
        ]),
        .testTarget(name: "IntegrationTests", dependencies: ["ASTTestKit", "ASTAlpacaClient", "ASTBus", "ASTJournal", "ASTRuntime", "ASTNotify", "ASTExecution", "ASTReport", "ASTDrill", "ASTMarketData", .product(name: "GRDB", package: "GRDB.swift")], exclude: ["Web"]),
    ],
    swiftLanguageModes: [.v6]
)
