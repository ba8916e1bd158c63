/// How a drill hurts a process.
public enum DrillSignal: String, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// SIGKILL: a crash.
    case kill
    /// SIGSTOP: a hang; astd's watchdog must kill and replace the process.
    case stop
    /// SIGTERM: a graceful stop nobody asked for.
    case term

    /// The POSIX signal number (Linux).
    public var number: Int32 {
        switch self {
        case .kill: 9
        case .stop: 19
        case .term: 15
        }
    }

    public var description: String { "SIG\(rawValue.uppercased())" }
    public static func < (a: DrillSignal, b: DrillSignal) -> Bool { a.rawValue < b.rawValue }
}

/// One round as planned: which process, which signal, how long to wait before sending it.
public struct PlannedRound: Sendable, Equatable, Codable {
    /// 1-based.
    public var index: Int
    public var process: String
    public var signal: DrillSignal
    /// The random moment: milliseconds to wait (while the demo trades) before the signal.
    public var delayMs: Int

    public init(index: Int, process: String, signal: DrillSignal, delayMs: Int) {
        self.index = index
        self.process = process
        self.signal = signal
        self.delayMs = delayMs
    }
}

/// SplitMix64: a small, seeded generator, so that a drill is re-run exactly from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seeded round planner of `astctl drill`.
///
/// Targets and signals are drawn from shuffled bags (every candidate once per bag, in a random
/// order), so that any run of `processes.count` rounds hits every process and any run of
/// `signals.count` rounds uses every signal: 50 rounds over 6 workers cover each at least 8 times.
public struct DrillPlanner: Sendable {
    /// The processes a drill may hurt: every worker, never astd.
    public static let workers = ["marketdata@main", "strategy@main", "risk@main", "broker@paper", "reconciler@main", "notifier@main"]

    /// The brokers a drill may run against: the paper broker, and `broker@ibkr` on a paper account
    /// (trading.mode PAPER: the adapter refuses any account that is not IB's paper `DU...`).
    public static let drillableBrokers = ["broker@paper", "broker@ibkr", "broker@alpaca"]

    /// ``workers`` with `broker` in place of the paper broker.
    public static func workers(broker: String) -> [String] { workers.map { $0 == "broker@paper" ? broker : $0 } }

    public let processes: [String]
    public let signals: [DrillSignal]
    public let maxDelayMs: Int
    var generator: SeededGenerator
    var processBag: [String] = []
    var signalBag: [DrillSignal] = []
    var planned = 0

    /// - Parameters:
    ///   - processes: the candidates (one name for a fixed target); must not be empty.
    ///   - signals: the candidates; must not be empty.
    ///   - maxDelayMs: each round waits a uniformly random 0...maxDelayMs before the signal.
    public init(
        seed: UInt64, processes: [String] = DrillPlanner.workers, signals: [DrillSignal] = DrillSignal.allCases, maxDelayMs: Int = 500
    ) {
        precondition(!processes.isEmpty && !signals.isEmpty && maxDelayMs >= 0)
        self.processes = processes
        self.signals = signals
        self.maxDelayMs = maxDelayMs
        generator = SeededGenerator(seed: seed)
    }

    /// The next round.
    public mutating func next() -> PlannedRound {
        if processBag.isEmpty { processBag = processes.shuffled(using: &generator) }
        if signalBag.isEmpty { signalBag = signals.shuffled(using: &generator) }
        planned += 1
        let delay = maxDelayMs == 0 ? 0 : Int.random(in: 0...maxDelayMs, using: &generator)
        return PlannedRound(index: planned, process: processBag.removeFirst(), signal: signalBag.removeFirst(), delayMs: delay)
    }

    /// The first `rounds` rounds of a seed.
    public static func plan(
        rounds: Int, seed: UInt64, processes: [String] = workers, signals: [DrillSignal] = DrillSignal.allCases,
        maxDelayMs: Int = 500
    ) -> [PlannedRound] {
        var planner = DrillPlanner(seed: seed, processes: processes, signals: signals, maxDelayMs: maxDelayMs)
        return (0..<max(0, rounds)).map { _ in planner.next() }
    }
}
