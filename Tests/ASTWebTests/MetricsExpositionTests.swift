import ASTCore
import ASTProcessKit
import CoreMetrics
import Foundation
import Prometheus
import Testing

@testable import ASTWeb

/// ast-web's checks of the snapshot files other processes write, and their merge into `/metrics`.
@Suite struct MetricsExpositionTests {
    /// What a process's real backend (swift-prometheus through ``ProcessMetrics/factory(process:registry:)``)
    /// writes for a counter with a label, a gauge and a timer.
    static func snapshot(process: String, frames: Int64 = 3, reason: String = "NO_BUYING_POWER") -> String {
        let registry = PrometheusCollectorRegistry()
        let factory = ProcessMetrics.factory(process: process, registry: registry)
        factory.makeCounter(label: "ast_bus_frames_in_total", dimensions: [("side", "server")]).increment(by: frames)
        factory.makeCounter(label: "ast_broker_rejections_total", dimensions: [("reason", reason)]).increment(by: 1)
        factory.makeRecorder(label: "ast_journal_size_bytes", dimensions: [], aggregate: false).record(Int64(4096))
        factory.makeTimer(label: "ast_journal_append_duration_seconds", dimensions: [("durability", "durable")]).recordNanoseconds(300_000)
        return registry.emitToString()
    }

    static func parse(_ text: String, process: String) -> Result<[MetricsExposition.Family], MetricsExposition.Refusal> {
        MetricsExposition.parse(Array(text.utf8), process: process)
    }

    @Test func theRealBackendsSnapshotsParseAndMergeIntoOneBlockPerFamily() throws {
        let risk = try Self.parse(Self.snapshot(process: "risk@main"), process: "risk@main").get()
        let broker = try Self.parse(
            Self.snapshot(process: "broker@paper", frames: 5, reason: "A \"quoted\"\\reason"), process: "broker@paper"
        )
        .get()
        #expect(risk.map(\.name).contains("ast_journal_append_duration_seconds"))
        #expect(risk.first { $0.name == "ast_journal_append_duration_seconds" }?.type == "histogram")
        let (text, conflicts) = MetricsExposition.merge([("broker@paper", broker), ("risk@main", risk)])
        #expect(conflicts.isEmpty)
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
        #expect(types.count == Set(types).count && types.count == 4, "\(types)")
        #expect(text.contains("ast_bus_frames_in_total{process=\"risk@main\",side=\"server\"} 3\n"))
        #expect(text.contains("ast_bus_frames_in_total{process=\"broker@paper\",side=\"server\"} 5\n"))
        // The merged text parses again as one process's would (the checks are closed under merge).
        let samples = risk.flatMap(\.samples).count + broker.flatMap(\.samples).count
        let reparsed = MetricsExposition.parse(Array(text.utf8), process: "risk@main")
        if case .failure(let r) = reparsed { #expect(r.reason.contains("broker@paper"), "\(r)") }
        #expect(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.count == samples)
    }

    @Test func aProcessCannotSpeakForAnother() {
        let text = Self.snapshot(process: "risk@main")
        guard case .failure(let refusal) = Self.parse(text, process: "broker@paper") else {
            Issue.record("a snapshot labelled risk@main was accepted as broker@paper's")
            return
        }
        #expect(refusal.reason.contains("process label"), "\(refusal)")
    }

    @Test(arguments: [
        ("ast_x_total{process=\"p@m\"} 1\n", "a sample before any TYPE"),
        ("# TYPE ast_x_total counter\nast_y_total{process=\"p@m\"} 1\n", "not of family"),
        ("# TYPE other_total counter\nother_total{process=\"p@m\"} 1\n", "bad metric name"),
        ("# TYPE ast_x_total counter\nast_x_total{process=\"p@m\"} one\n", "bad value"),
        ("# TYPE ast_x_total counter\nast_x_total{process=\"p@m\",a=\"\\q\"} 1\n", "bad escape"),
        ("# TYPE ast_x_total counter\nast_x_total{process=\"p@m\",process=\"p@m\"} 1\n", "twice"),
        ("# TYPE ast_x_total counter\nast_x_total{process=\"p@m\",__a=\"1\"} 1\n", "bad label"),
        ("# TYPE ast_x_total counter\nast_x_total{process=\"p@m\" 1\n", "label"),
        ("# TYPE ast_x_total counter\nast_x_total 1\n", "process label missing"),
        ("# TYPE ast_x_total counter\n# TYPE ast_x_total counter\n", "declared twice"),
        ("# TYPE ast_x_total widget\n", "bad TYPE"),
    ])
    func aBrokenSnapshotIsRefusedWhole(_ text: String, _ reason: String) {
        guard case .failure(let refusal) = Self.parse(text, process: "p@m") else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(refusal.reason.contains(reason), "\(refusal)")
    }

    @Test func aSnapshotOverTheLimitsIsRefusedBeforeItIsRead() {
        let big = [UInt8](repeating: 0x23, count: MetricsExposition.maximumBytes + 1)
        #expect(throws: MetricsExposition.Refusal.self) { try MetricsExposition.parse(big, process: "p@m").get() }
        let line = "# TYPE ast_x gauge\nast_x{process=\"p@m\",a=\"" + String(repeating: "v", count: 300) + "\"} 1\n"
        #expect(throws: MetricsExposition.Refusal.self) { try Self.parse(line, process: "p@m").get() }
        #expect(throws: MetricsExposition.Refusal.self) { try MetricsExposition.parse([0xFF, 0xFE], process: "p@m").get() }
    }

    @Test func aFamilyOfAnotherTypeInASecondProcessIsLeftOut() throws {
        let a = try Self.parse("# TYPE ast_x gauge\nast_x{process=\"a@m\"} 1\n", process: "a@m").get()
        let b = try Self.parse("# TYPE ast_x counter\nast_x{process=\"b@m\"} 1\n", process: "b@m").get()
        let (text, conflicts) = MetricsExposition.merge([("a@m", a), ("b@m", b)])
        #expect(conflicts.count == 1 && !text.contains("b@m"))
    }

    @Test func onlyProcessNamedFilesAreRead() {
        #expect(MetricsCollector.process(fileName: "risk@main.prom") == "risk@main")
        #expect(MetricsCollector.process(fileName: "astd.prom") == "astd")
        for bad in ["risk@main.txt", "..prom", "a@b@c.prom", "Risk@main.prom", ".prom", "risk@main.prom.tmp", "x/y.prom"] {
            #expect(MetricsCollector.process(fileName: bad) == nil, "\(bad)")
        }
    }

    @Test func theCollectorServesWhatIsValidAndMarksWhatIsNot() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ast-metrics-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/metrics", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.snapshot(process: "risk@main").write(toFile: dir + "/metrics/risk@main.prom", atomically: true, encoding: .utf8)
        try Self.snapshot(process: "risk@main").write(toFile: dir + "/metrics/broker@paper.prom", atomically: true, encoding: .utf8)
        try "junk".write(toFile: dir + "/metrics/notes.txt", atomically: true, encoding: .utf8)
        let collector = MetricsCollector(runtimeDir: dir, clock: FixedClock(), logger: .init(label: "test"))
        let text = collector.exposition()
        #expect(text.contains("ast_metrics_snapshot_valid{process=\"risk@main\"} 1"))
        #expect(text.contains("ast_metrics_snapshot_valid{process=\"broker@paper\"} 0"))
        #expect(text.contains("ast_metrics_snapshot_age_seconds{process=\"risk@main\"}"))
        #expect(!text.contains("junk") && text.contains("ast_bus_frames_in_total{process=\"risk@main\""))
        #expect(collector.exposition() == text, "nothing changed: the same exposition (from the cache)")
        // A file rewritten (a new file renamed into place, as the processes do) is read again.
        try Self.snapshot(process: "broker@paper").write(toFile: dir + "/metrics/broker@paper.prom", atomically: true, encoding: .utf8)
        #expect(collector.exposition().contains("ast_metrics_snapshot_valid{process=\"broker@paper\"} 1"))
    }
}

/// A wall clock far in the future of any file's modification time.
struct FixedClock: WallClock {
    func now() -> Timestamp { Timestamp(nanoseconds: 4_000_000_000_000_000_000) }
}
