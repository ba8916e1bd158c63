import ASTCore
import ASTProcessKit
import Foundation
import Hummingbird
import Logging
import Synchronization

/// `/metrics`: every process's snapshot file under `<runtime_dir>/metrics/` (ast-web's own
/// included), each read bounded and checked by ``MetricsExposition``, merged into one Prometheus
/// text exposition, plus two families ast-web adds per file:
/// `ast_metrics_snapshot_age_seconds{process}` (how old the file is: a process that stopped
/// writing shows here, its last figures stay visible) and `ast_metrics_snapshot_valid{process}`
/// (0 when the file was refused; the reason is logged once per change).
public final class MetricsCollector: Sendable {
    public let directory: String
    let clock: any WallClock
    let logger: Logger
    let lastRefusals = Mutex<[String: String]>([:])

    /// At most this many snapshot files are read.
    public static let maximumFiles = 64

    public init(runtimeDir: String, clock: any WallClock, logger: Logger) {
        self.directory = "\(runtimeDir)/\(ProcessMetrics.directoryName)"
        self.clock = clock
        self.logger = logger
    }

    /// The process a snapshot file name stands for (`role@instance.prom` or `astd.prom`), or nil.
    static func process(fileName: String) -> String? {
        guard fileName.hasSuffix(".prom"), fileName.utf8.count <= 80 else { return nil }
        let name = String(fileName.dropLast(5))
        let parts = name.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && ProcessIdentity.isName(String($0)) }) else { return nil }
        return name
    }

    /// Reads a regular file of at most `limit` bytes (nil for anything else: a link, a directory,
    /// a file too big).
    static func readBounded(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var total = 0
        while total <= limit {
            let n = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return -1 }
                return read(fd, base + total, limit + 1 - total)
            }
            if n <= 0 { break }
            total += n
        }
        guard total <= limit else { return nil }
        return Array(bytes[0..<total])
    }

    /// The exposition served at `/metrics`.
    public func exposition() -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        var sources: [(process: String, families: [MetricsExposition.Family])] = []
        var ages: [String] = []
        var valid: [String] = []
        let now = clock.now()
        var refusals: [String: String] = [:]
        for name in names.prefix(Self.maximumFiles) {
            guard let process = Self.process(fileName: name) else { continue }
            let path = "\(directory)/\(name)"
            let label = "process=\"\(process)\""
            var st = stat()
            if lstat(path, &st) == 0 {
                let modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
                let age = max(0, Double(now.nanoseconds - modified) / 1e9)
                ages.append("ast_metrics_snapshot_age_seconds{\(label)} \(age)")
            }
            let result: Result<[MetricsExposition.Family], MetricsExposition.Refusal> =
                Self.readBounded(path, limit: MetricsExposition.maximumBytes).map { MetricsExposition.parse($0, process: process) }
                ?? .failure(.init(line: 0, reason: "not a regular file of at most \(MetricsExposition.maximumBytes) bytes"))
            switch result {
            case .success(let families):
                sources.append((process, families))
                valid.append("ast_metrics_snapshot_valid{\(label)} 1")
            case .failure(let refusal):
                refusals[process] = refusal.description
                valid.append("ast_metrics_snapshot_valid{\(label)} 0")
            }
        }
        var (text, conflicts) = MetricsExposition.merge(sources)
        for c in conflicts { refusals["conflict \(c)"] = c }
        logRefusals(refusals)
        text += "# HELP ast_metrics_snapshot_age_seconds Seconds since the process last wrote its metrics snapshot.\n"
        text += "# TYPE ast_metrics_snapshot_age_seconds gauge\n" + ages.map { $0 + "\n" }.joined()
        text += "# HELP ast_metrics_snapshot_valid 1 when ast-web accepted the process's snapshot, 0 when it refused it.\n"
        text += "# TYPE ast_metrics_snapshot_valid gauge\n" + valid.map { $0 + "\n" }.joined()
        return text
    }

    /// Logs each refusal when it is new or its reason changed (not at every scrape).
    func logRefusals(_ now: [String: String]) {
        let changed = lastRefusals.withLock { last -> [(String, String)] in
            defer { last = now }
            return now.filter { last[$0.key] != $0.value }.sorted { $0.key < $1.key }
        }
        for (process, reason) in changed {
            logger.warning("metrics snapshot refused", metadata: ["process": "\(process)", "reason": "\(reason)"])
        }
    }
}

extension WebServer {
    /// `GET /metrics` in the Prometheus text format.
    func addMetrics(_ router: Router<BasicRequestContext>) {
        let collector = MetricsCollector(runtimeDir: op.runtimeDir, clock: clock, logger: logger)
        router.get("/metrics") { _, _ in
            Self.text(collector.exposition(), type: "text/plain; version=0.0.4; charset=utf-8")
        }
    }
}
