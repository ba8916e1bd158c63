import ASTBus
import ASTCore
import ASTJournal
import ASTRuntime
import ASTTestKit
import Foundation
import Logging

/// A temporary tree in which tests start real worker processes on real sockets.
final class WorkerTree {
    let dir: TemporaryDirectory
    let runtimeDir: String
    let stateDir: String

    init() throws {
        dir = try TemporaryDirectory(prefix: "ast-it")
        runtimeDir = dir("run")
        stateDir = dir("state")
    }

    deinit { dir.remove() }

    /// The environment a worker gets: the repository's etc/, this tree's directories.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = [
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "AST_CONFIG_DIR": BuildProducts.packageRoot + "/etc",
            "AST_ENV": "development",
            "AST_RUNTIME_DIR": runtimeDir,
            "AST_STATE_DIR": stateDir,
            "AST_LOGGING__LEVEL": "debug",
        ]
        env.merge(extra) { $1 }
        return env
    }

    func socketPath(_ identity: ProcessIdentity) -> String { WorkerRuntime.socketPath(identity: identity, runtimeDir: runtimeDir) }
    func journalPath(_ identity: ProcessIdentity) -> String { WorkerRuntime.journalPath(identity: identity, stateDir: stateDir) }

    /// Starts `ast-<role>` and waits until its socket accepts connections.
    func start(_ identity: ProcessIdentity, name: String? = nil, extra: [String: String] = [:]) async throws -> ChildProcess {
        let exe = try BuildProducts.executable("ast-\(identity.role.rawValue)")
        let child = try ChildProcess(
            exe, ["--instance", identity.instance], environment: environment(extra),
            name: name ?? identity.description, outputDirectory: dir.path)
        let path = socketPath(identity)
        try await eventually("\(identity) to listen at \(path)") {
            guard child.isRunning else { throw HarnessError("\(identity) exited early: \(child.stderr)") }
            return UnixSocket.isLive(path: path)
        }
        return child
    }

    /// All entries of a (closed or live) journal, read through a second connection.
    func entries(_ identity: ProcessIdentity) throws -> [JournalEntry] {
        try Self.entries(path: journalPath(identity), process: identity.description)
    }

    static func entries(path: String, process: String) throws -> [JournalEntry] {
        let j = try Journal(path: path, process: process, logger: Logger(label: "test"))
        defer { try? j.close() }
        var out: [JournalEntry] = []
        try j.scan(fromSeq: 1) {
            out.append($0)
            return true
        }
        return out
    }
}
