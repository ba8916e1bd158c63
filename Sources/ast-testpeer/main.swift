// ast-testpeer: a bus client for integration tests and benchmarks (never part of the tree).
// `send` delivers N acknowledged probes to an endpoint through the real outbox (journaled,
// re-sent until acknowledged) and exits 0 once every one is acknowledged.
import ASTBus
import ASTCore
import ASTJournal
import ASTRuntime
import ASTWire
import ArgumentParser
import Foundation
import Logging

@main
struct TestPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ast-testpeer", subcommands: [Send.self])
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
