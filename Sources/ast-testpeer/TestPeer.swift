// ast-testpeer: a bus client for integration tests and benchmarks (never part of the tree).
// `send` delivers N acknowledged probes to an endpoint through the real outbox (journaled,
// re-sent until acknowledged) and exits 0 once every one is acknowledged. `fake-polygon` serves
// the production data set (ASTTestKit's ProductionData) as Polygon's API for scripts/chaos-systemd.
// `chaos-check` (ChaosCheck.swift) checks a copy of a tree's journals for orders placed twice and lost fills.
import ASTBus
import ASTCalendar
import ASTCore
import ASTJournal
import ASTRuntime
import ASTTestKit
import ASTWire
import ArgumentParser
import Foundation
import Logging

@main
struct TestPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ast-testpeer", subcommands: [Send.self, FakePolygon.self, ChaosCheck.self])
}

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send N acknowledged probes and wait for every ack.")
    @Option var socket: String
    @Option var journal: String
    @Option var target: String
    @Option var count: Int
    @Option(name: .customLong("interval-ms")) var intervalMs: Int = 0
    @Option var role: String = "control"
    @Option var instance: String = "testpeer"
    @Option(name: .customLong("timeout-s")) var timeoutS: Int = 60
    /// After this many probes, wait until `--resume-file` exists before sending the rest: a test
    /// can then act (kill the receiver) while the stream is certainly not over, however slow
    /// the machine.
    @Option(name: .customLong("pause-after")) var pauseAfter: Int?
    @Option(name: .customLong("resume-file")) var resumeFile: String?

    func run() async throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .info) }
        let logger = Logger(label: "ast.testpeer")
        let identity = ProcessIdentity(role: Role(role), instance: instance)
        let j = try Journal(path: journal, process: identity.description, logger: logger)
        let settings = BusSettings(ackTimeout: .milliseconds(500), backoffInitial: .milliseconds(20), backoffMaximum: .milliseconds(200))
        let client = try BusClient(
            identity: identity, target: target, path: socket, expectedRole: nil, settings: settings,
            journal: j, clock: SystemClock(), logger: logger)
        let runner = Task { await client.run() }
        var start = ContinuousClock.now
        for i in 1...max(count, 1) where count > 0 {
            try client.send(.probe(Probe(counter: Int64(i), text: "probe \(i)")))
            if intervalMs > 0 { try await Task.sleep(for: .milliseconds(intervalMs)) }
            if i == pauseAfter, let resumeFile {
                logger.info("paused after \(i) probes until \(resumeFile) exists")
                while !FileManager.default.fileExists(atPath: resumeFile) { try await Task.sleep(for: .milliseconds(10)) }
                logger.info("resumed")
                start = ContinuousClock.now
            }
        }
        while client.pendingCount > 0 {
            guard ContinuousClock.now - start < .seconds(timeoutS) else {
                logger.error("timed out with \(client.pendingCount) unacknowledged")
                throw ExitCode(2)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        runner.cancel()
        await runner.value
        try j.close()
        print("acknowledged \(count)")
    }
}

/// The production data set (the standard universe, seed 3) served as Polygon's API on
/// 127.0.0.1 until killed; the port goes to `--port-file` (written atomically) and stdout.
struct FakePolygon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-polygon", abstract: "Serve the seeded production data set as Polygon's API (tests and chaos runs only).")
    @Option(help: "The API key requests must carry.") var key: String
    @Option(help: "The last session served (YYYY-MM-DD).") var through: String
    @Option(help: "How many sessions up to --through are served.") var sessions: Int = 280
    @Option(name: .customLong("page-size")) var pageSize: Int = 1_000
    @Option(name: .customLong("port-file")) var portFile: String?

    func run() async throws {
        guard let last = LocalDate(through) else { throw ValidationError("--through must be a date as YYYY-MM-DD (got '\(through)')") }
        guard (1...5_000).contains(sessions) else { throw ValidationError("--sessions must be 1...5000 (got \(sessions))") }
        let served = ProductionData.served(through: last, sessions: sessions)
        let server = try await FakePolygonServer(apiKey: key, data: served.data, pageSize: pageSize)
        server.setReference(tickers: served.tickers, splits: served.splits, dividends: served.dividends)
        if let portFile {
            try Data("\(server.port)\n".utf8).write(to: URL(fileURLWithPath: portFile), options: .atomic)
        }
        print("fake Polygon listening on \(server.baseURL): \(served.stocks) stocks, \(sessions) sessions through \(last)")
        while true { try await Task.sleep(for: .seconds(3_600)) }
    }
}
