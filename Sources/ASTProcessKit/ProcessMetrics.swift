import CoreMetrics
import FoundationEssentials
import Glibc
import Prometheus
import Synchronization

/// This process's metrics: swift-metrics bootstrapped once with a swift-prometheus registry, every
/// metric labelled with `process`, and a snapshot of the registry in Prometheus text format written
/// atomically (a temporary file renamed) to `<runtime_dir>/metrics/<process>.prom` every second.
///
/// ast-web reads those files (bounded, validated: they come from other processes) and serves
/// them merged at `/metrics`. Nothing here waits for ast-web or knows whether it runs: a
/// snapshot is a file replaced in place, so a dashboard that is down, hung or crash-looping
/// costs a process one small write a second and nothing else.
public enum ProcessMetrics {
    /// The directory under the runtime directory where snapshots are written.
    public static let directoryName = "metrics"
    /// How often a snapshot is written.
    public static let interval: Duration = .seconds(1)

    struct State {
        var registry: PrometheusCollectorRegistry?
        var process: String = ""
        var collectors: [@Sendable () -> Void] = []
    }
    static let state = Mutex(State())

    /// Bootstraps swift-metrics for this process (once: a second call is ignored), labelling every
    /// metric with `process`. Call it before anything creates a metric: a metric made before
    /// the bootstrap stays a no-op.
    @discardableResult
    public static func bootstrap(process: String) -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        let backend = factory(process: process, registry: registry)
        let (chosen, first) = state.withLock { s -> (PrometheusCollectorRegistry, Bool) in
            if let existing = s.registry { return (existing, false) }
            s.registry = registry
            s.process = process
            return (registry, true)
        }
        if first { MetricsSystem.bootstrap(backend) }
        return chosen
    }

    /// The swift-metrics backend of `process`: swift-prometheus into `registry`, a `process` label on
    /// every metric, histogram buckets fitted to the journal's and the notifier's latencies.
    public static func factory(process: String, registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in (name, [("process", process)] + labels.filter { $0.0 != "process" }) }
        factory.durationHistogramBuckets["ast_journal_append_duration_seconds"] = [
            .microseconds(10), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .seconds(1),
        ]
        factory.durationHistogramBuckets["ast_notifier_delivery_latency_seconds"] = [
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
            .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900),
        ]
        return factory
    }

    /// Adds work to run just before each snapshot (gauges read from state, such as a journal's size
    /// or a client's unacknowledged messages). It must be quick and must not block.
    public static func addCollector(_ collect: @escaping @Sendable () -> Void) {
        state.withLock { $0.collectors.append(collect) }
    }

    /// The registry rendered now, after running the collectors; nil before ``bootstrap(process:)``.
    public static func render() -> String? {
        let (registry, collectors) = state.withLock { ($0.registry, $0.collectors) }
        guard let registry else { return nil }
        for collect in collectors { collect() }
        return registry.emitToString()
    }

    /// Where `process` writes its snapshot.
    public static func snapshotPath(runtimeDir: String, process: String) -> String {
        "\(runtimeDir)/\(directoryName)/\(process).prom"
    }

    /// Writes one snapshot now (atomically); false when it could not be written (logged by nobody:
    /// metrics never make a process noisier or less healthy).
    @discardableResult
    public static func writeSnapshot(runtimeDir: String) -> Bool {
        guard let text = render() else { return false }
        let process = state.withLock { $0.process }
        let dir = "\(runtimeDir)/\(directoryName)"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            try Data(text.utf8).write(to: URL(fileURLWithPath: snapshotPath(runtimeDir: runtimeDir, process: process)), options: .atomic)
            return true
        } catch {
            return false
        }
    }

    /// Writes a snapshot every ``interval`` until the task is cancelled (and once more then).
    public static func writeSnapshots(runtimeDir: String) async {
        while !Task.isCancelled {
            writeSnapshot(runtimeDir: runtimeDir)
            do { try await Task.sleep(for: interval) } catch { break }
        }
        writeSnapshot(runtimeDir: runtimeDir)
    }

    /// Adds a collector that sets `ast_journal_size_bytes` to the size of the journal at `path`
    /// (the database and its write-ahead log).
    public static func watchJournalSize(path: String) {
        let gauge = Gauge(label: "ast_journal_size_bytes")
        addCollector {
            var total: Int64 = 0
            for file in [path, path + "-wal"] {
                var st = stat()
                if lstat(file, &st) == 0 { total &+= Int64(st.st_size) }
            }
            gauge.record(total)
        }
    }
}
