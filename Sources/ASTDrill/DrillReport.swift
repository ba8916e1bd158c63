/// The end of a drill: what was done, how fast Safe Mode reacted, what broke.
public struct DrillReport: Sendable, Equatable, Codable {
    public var seed: UInt64
    public var rounds: Int
    /// process -> signal (`kill`, `stop`, `term`) -> rounds.
    public var kills: [String: [String: Int]]
    /// Every broker round's HALTED latency, in round order.
    public var haltedLatenciesMs: [Int]
    /// Restarts per process over the drill (astd's counters, end minus start).
    public var restarts: [String: Int]
    public var violations: [DrillViolation]
    public var wallSeconds: Double

    public init(
        seed: UInt64, rounds: Int = 0, kills: [String: [String: Int]] = [:], haltedLatenciesMs: [Int] = [],
        restarts: [String: Int] = [:], violations: [DrillViolation] = [], wallSeconds: Double = 0
    ) {
        self.seed = seed
        self.rounds = rounds
        self.kills = kills
        self.haltedLatenciesMs = haltedLatenciesMs
        self.restarts = restarts
        self.violations = violations
        self.wallSeconds = wallSeconds
    }

    /// Counts one round.
    public mutating func record(_ round: PlannedRound) {
        rounds += 1
        kills[round.process, default: [:]][round.signal.rawValue, default: 0] += 1
    }

    /// Nearest-rank percentile (0...100) of the HALTED latencies; nil without broker rounds.
    public func haltedLatencyMs(percentile p: Double) -> Int? {
        Self.percentile(haltedLatenciesMs, p)
    }

    /// Nearest-rank percentile of `values`.
    public static func percentile(_ values: [Int], _ p: Double) -> Int? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    public var passed: Bool { violations.isEmpty }

    /// The report as `astctl drill` prints it.
    public var text: String {
        var lines = ["Drill report (seed \(seed)): \(rounds) round\(rounds == 1 ? "" : "s") in \(Int(wallSeconds.rounded())) s"]
        lines.append("Kills (process: signal x rounds):")
        for process in kills.keys.sorted() {
            let bySignal = kills[process]!.sorted { $0.key < $1.key }.map { "SIG\($0.key.uppercased()) x\($0.value)" }
            lines.append("  \(process): \(bySignal.joined(separator: ", "))")
        }
        if let p50 = haltedLatencyMs(percentile: 50), let p99 = haltedLatencyMs(percentile: 99) {
            lines.append("HALTED latency after a broker death: p50 \(p50) ms, p99 \(p99) ms (\(haltedLatenciesMs.count) broker rounds)")
        } else {
            lines.append("HALTED latency: no broker round")
        }
        let r = restarts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines.append("Restarts: \(restarts.values.reduce(0, +)) (\(r.joined(separator: ", ")))")
        lines.append("Violations: \(violations.count)")
        for v in violations { lines.append("  \(v)") }
        lines.append(passed ? "PASSED: every invariant held in every round" : "FAILED: see runbooks/running-a-chaos-drill.md")
        return lines.joined(separator: "\n")
    }
}
