import Foundation
import GRDBSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// One line of the results table.
struct ReportRow {
    var benchmark: String
    var result: String
    var baseline: String
    var ratio: String
    var target: String
    /// `met`, `missed`, or `-` where the issue sets no target.
    var verdict: String
}

/// The Markdown report: the machine, the settings, and one table.
struct Report {
    var settings: [String]
    var rows: [ReportRow] = []
    /// The load average when the run began (the machine is shared: other builds skew results).
    let loadAtStart = MachineInfo.loadAverage()

    init(settings: [String]) { self.settings = settings }

    mutating func add(_ row: ReportRow) { rows.append(row) }

    func markdown() -> String {
        var lines = ["### Machine", ""]
        lines += MachineInfo.lines().map { "- \($0)" }
        lines.append("- load average (1, 5, 15 min) at start: \(loadAtStart), at end: \(MachineInfo.loadAverage()) (the machine is shared)")
        lines += ["", "### Settings", ""]
        lines += settings.map { "- \($0)" }
        lines += [
            "", "### Results", "",
            "Medians over the repetitions; a ratio is the median of the per-repetition ratios (both sides of a",
            "repetition run interleaved).", "",
            "| Benchmark | Result | Baseline (same run) | Ratio | Target | Met |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows {
            lines.append("| \(r.benchmark) | \(r.result) | \(r.baseline) | \(r.ratio) | \(r.target) | \(r.verdict) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func verdict(_ met: Bool) -> String { met ? "met" : "**missed**" }

    // MARK: Rows of each benchmark

    mutating func add(codec c: CodecBenchmarks.Summary) {
        let baseline = "memcpy framing: \(Format.rate(c.memcpy)) frames/s"
        add(
            ReportRow(
                benchmark: "1. Frame codec: `FrameEncoder` + `FrameDecoder` in an `EmbeddedChannel`, \(c.payloadBytes)-byte payload",
                result: "\(Format.rate(c.framing)) frames/s", baseline: baseline,
                ratio: "\(Format.ratio(c.framingSlowdown)) slower", target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark: "1. Envelope JSON encode + decode (`EnvelopeCodec`), same probe",
                result: "\(Format.rate(c.jsonRoundTrip)) msgs/s", baseline: baseline,
                ratio: "\(Format.ratio(c.jsonSlowdown)) slower", target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark: "1. of which JSON encode only / decode only",
                result: "\(Format.rate(c.jsonEncode)) / \(Format.rate(c.jsonDecode)) msgs/s",
                baseline: "-", ratio: "-", target: "-", verdict: "-"))
    }

    mutating func add(roundTrips s: RoundTripBenchmarks.Summary) {
        let raw =
            "socketpair echo, 4 B: \(latency(s.raw)); p50 of the repetitions "
            + "\(Format.duration(s.raw.p50Range.lowerBound))–\(Format.duration(s.raw.p50Range.upperBound))"
        add(
            ReportRow(
                benchmark:
                    "2. Bus round trip: `BusClient.request(ping)` → `ast-risk` → `pong` (\(s.bus.roundTripsPerRepetition) per repetition)",
                result: latency(s.bus), baseline: raw,
                ratio: "p50 \(Format.ratio(s.busRatio.p50)), p99 \(Format.ratio(s.busRatio.p99))",
                target: "≤ 3× raw (p50)", verdict: Self.verdict(s.busRatio.p50 <= 3)))
        add(
            ReportRow(
                benchmark: "2. diagnostic: the same pings from a blocking client (no NIO, no tasks on the client side)",
                result: latency(s.blocking), baseline: raw,
                ratio: "p50 \(Format.ratio(s.blockingRatio.p50)), p99 \(Format.ratio(s.blockingRatio.p99))",
                target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark:
                    "2. Acknowledged probe: `BusClient.send(probe)` → ack (sender's and receiver's durable commits) (\(s.probe.roundTripsPerRepetition) per repetition)",
                result: latency(s.probe), baseline: "-", ratio: "-", target: "reported", verdict: "-"))
        add(
            ReportRow(
                benchmark: "2. diagnostic: probe → ack from the blocking client (receiver's durable commit only)",
                result: latency(s.blockingProbe), baseline: "-", ratio: "-", target: "-", verdict: "-"))
    }

    mutating func add(journal j: JournalBenchmarks.Summary, commits: Int, rows: Int) {
        let durableRatio = j.durableRatio
        add(
            ReportRow(
                benchmark: "3. Journal durable commits: `append(.durable)`, one entry and one fsync each (\(commits) per repetition)",
                result:
                    "\(Format.rate(j.durable.perSecond)) commits/s (p50 \(Format.duration(j.durable.p50)), p99 \(Format.duration(j.durable.p99)))",
                baseline: "raw SQLite, WAL, FULL, 1 row/txn: \(Format.rate(j.rawDurable.perSecond)) commits/s "
                    + "(p50 \(Format.duration(j.rawDurable.p50)), p99 \(Format.duration(j.rawDurable.p99)))",
                ratio: "\(Format.percent(durableRatio)) of raw", target: "≥ 90 % of raw", verdict: Self.verdict(durableRatio >= 0.9)))
        add(
            ReportRow(
                benchmark: "3. Journal batched: `append(.batched)` + `flush()` (\(rows) entries per repetition)",
                result: "\(Format.rate(j.batched)) entries/s",
                baseline: "raw SQLite, WAL, NORMAL, 1024 rows/txn: \(Format.rate(j.rawBatched)) rows/s",
                ratio: "\(Format.percent(j.batchedRatio)) of raw", target: "≥ 150 k entries/s", verdict: Self.verdict(j.batched >= 150_000))
        )
        add(
            ReportRow(
                benchmark: "3. diagnostic: raw SQLite durable commits that also update the journal's `head` row in each transaction",
                result: "\(Format.rate(j.rawDurableWithHead.perSecond)) commits/s (p50 \(Format.duration(j.rawDurableWithHead.p50)), "
                    + "p99 \(Format.duration(j.rawDurableWithHead.p99)))",
                baseline: "raw SQLite as above: \(Format.rate(j.rawDurable.perSecond)) commits/s",
                ratio: "\(Format.percent(j.headRatio)) of raw", target: "-", verdict: "-"))
    }

    func latency(_ s: LatencySummary) -> String {
        "p50 \(Format.duration(s.p50)), p99 \(Format.duration(s.p99)) (\(Format.rate(s.perSecond))/s)"
    }
}

/// What the report says about the machine it ran on.
enum MachineInfo {
    static func lines() -> [String] {
        var out: [String] = []
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        out.append("\(sysconf(Int32(_SC_NPROCESSORS_ONLN))) online cores (\(cpu))")
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        out.append("Linux \(release)")
        out.append("/tmp on \(filesystem("/tmp")); SQLite \(RawSQLite.version)")
        return out
    }

    static func loadAverage() -> String {
        var load = [Double](repeating: 0, count: 3)
        guard getloadavg(&load, 3) == 3 else { return "unknown" }
        return load.map { String(format: "%.2f", $0) }.joined(separator: ", ")
    }

    /// The type of the filesystem holding `path`, from the longest matching mount point.
    static func filesystem(_ path: String) -> String {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return "an unknown filesystem" }
        var best: (point: String, type: String)?
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            let point = String(fields[1]), type = String(fields[2])
            let covers = point == "/" || path == point || path.hasPrefix(point + "/")
            if covers, point.count >= (best?.point.count ?? -1) { best = (point, type) }
        }
        return best.map { "\($0.type) (mounted at \($0.point))" } ?? "an unknown filesystem"
    }
}
