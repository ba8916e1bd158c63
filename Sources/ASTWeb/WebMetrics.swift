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
    /// The last merge and the files it came from (name, modification time, size): the processes
    /// rewrite their files once a second, so most scrapes reuse it and only the ages are new.
    let cache = Mutex<(key: [String], text: String, valid: [String])?>(nil)

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
        var ages: [String] = []
        var key: [String] = []
        var files: [(process: String, path: String)] = []
        let now = clock.now()
        for name in names.prefix(Self.maximumFiles) {
            guard let process = Self.process(fileName: name) else { continue }
            let path = "\(directory)/\(name)"
            var st = stat()
            if lstat(path, &st) == 0 {
                let modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
                let age = max(0, Double(now.nanoseconds - modified) / 1e9)
                ages.append("ast_metrics_snapshot_age_seconds{process=\"\(process)\"} \(age)")
                key.append("\(name) \(modified) \(st.st_size) \(st.st_ino)")
            }
            files.append((process, path))
        }
        let (text, valid): (String, [String])
        if let c = cache.withLock({ $0 }), c.key == key {
            (text, valid) = (c.text, c.valid)
        } else {
            (text, valid) = merged(files)
            cache.withLock { $0 = (key, text, valid) }
        }
        var out = text
        out += "# HELP ast_metrics_snapshot_age_seconds Seconds since the process last wrote its metrics snapshot.\n"
        out += "# TYPE ast_metrics_snapshot_age_seconds gauge\n" + ages.map { $0 + "\n" }.joined()
        out += "# HELP ast_metrics_snapshot_valid 1 when ast-web accepted the process's snapshot, 0 when it refused it.\n"
        out += "# TYPE ast_metrics_snapshot_valid gauge\n" + valid.map { $0 + "\n" }.joined()
        return out
    }

    /// The snapshot files read, checked and merged, and the `ast_metrics_snapshot_valid` lines.
    func merged(_ files: [(process: String, path: String)]) -> (String, [String]) {
        var sources: [(process: String, families: [MetricsExposition.Family])] = []
        var valid: [String] = []
        var refusals: [String: String] = [:]
        for (process, path) in files {
            let label = "process=\"\(process)\""
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
        let (text, conflicts) = MetricsExposition.merge(sources)
        for c in conflicts { refusals["conflict \(c)"] = c }
        logRefusals(refusals)
        return (text, valid)
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
