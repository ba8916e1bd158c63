import ASTCore
import ASTJournal
import ASTReplay
import ASTRisk
import ASTRuntime
import ArgumentParser
import Foundation
import Logging

/// `ast-bench replay` (M7): `astctl replay --verify` throughput and the timeline build, over a
/// synthetic risk journal written with the real record formats (the shell's encoder, a real
/// ``RiskGate`` producing the recorded decisions), against a raw scan of the same file.
struct ReplayBenchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay", abstract: "Measure replay --verify (entries/s) and the timeline build over a large synthetic journal.")

    @Option(help: "Entries in the synthetic journal.") var entries = 1_000_000
    @Option(help: "Repetitions of each measurement; the report gives their median.") var repetitions = 3
    @Option(name: .customLong("tmp"), help: "Where the scratch journal goes.") var tmp = "/tmp"

    func run() throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        let progress = { (s: String) in FileHandle.standardError.write(Data("ast-bench: \(s)\n".utf8)) }
        let scratch = try ScratchDirectory(prefix: "ast-bench-replay", base: tmp)
        defer { scratch.remove() }
        let path = scratch.path + "/risk@main.sqlite"
        var start = Monotonic.now()
        let written = try Self.write(path: path, entries: entries)
        progress("wrote \(written) entries in \(Format.duration(Double(Monotonic.now() - start)))")
        let directory = try JournalDirectory(path: scratch.path)

        func measure(_ name: String, _ body: () throws -> Int) rethrows -> Double {
            var rates: [Double] = []
            for rep in 1...repetitions {
                start = Monotonic.now()
                let n = try body()
                let seconds = Double(Monotonic.now() - start) / 1e9
                rates.append(Double(n) / seconds)
                progress(
                    "\(name) \(rep)/\(repetitions): \(Format.rate(Double(n) / seconds)) entries/s (\(String(format: "%.2f", seconds)) s)")
            }
            return Stats.median(rates)
        }
        let raw = try measure("raw scan (baseline)") { try JournalReader(path: path).rawCount() }
        let scan = try measure("entry scan") {
            var n = 0
            try JournalReader(path: path).scan { _ in
                n += 1
                return true
            }
            return n
        }
        var verifyResult: ProcessReplay?
        let verify = measure("replay --verify (re-execution)") {
            let r = ReplayVerifier.replay(path: path, config: ReplaySettings(), checkChain: false)
            verifyResult = r
            return r.entries
        }
        let verifyWithChain = measure("replay --verify (re-execution + hash chain)") {
            ReplayVerifier.verify(directory, config: ReplaySettings()).entries
        }
        var events = 0
        let timeline = try measure("timeline build (every event, bus included)") {
            let t = try Timeline.build(directory, filter: TimelineFilter(includeBus: true))
            events = t.events.count
            return t.entriesRead
        }
        guard let v = verifyResult, v.divergence == nil else {
            throw BenchError("the synthetic journal did not replay identically: \(verifyResult?.divergence.map { "\($0)" } ?? "?")")
        }
        print(
            """
            ## M7 — replay (\(written) entries, \(repetitions) repetitions, medians)

            | measurement | entries/s | vs raw scan |
            |---|---|---|
            | raw scan of the journal, no entry values (baseline) | \(Format.rate(raw)) | 1.00 |
            | scan into `JournalEntry` values | \(Format.rate(scan)) | \(String(format: "%.2f", scan / raw)) |
            | replay --verify: decode + re-execute + compare (target ≥ 200k/s) | \(Format.rate(verify)) | \(String(format: "%.2f", verify / raw)) |
            | replay --verify incl. hash-chain check | \(Format.rate(verifyWithChain)) | \(String(format: "%.2f", verifyWithChain / raw)) |
            | timeline build (\(events) events) | \(Format.rate(timeline)) | \(String(format: "%.2f", timeline / raw)) |

            Verify: \(v.inputs) inputs re-executed, \(v.outputsCompared) outputs compared, identical.
            Timeline of \(written) entries: \(String(format: "%.2f", Double(written) / timeline)) s.
            """)
    }

    /// A risk journal as ast-risk writes it: the initial record, a portfolio, then marks (most of
    /// the traffic), intents with the gate's decisions, and bus acks, in a fixed mix.
    static func write(path: String, entries: Int) throws -> Int {
        let journal = try Journal(path: path, process: "risk@main", logger: Logger(label: "bench"), batchLimit: 4096)
        defer { try? journal.close() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let t0 = Timestamp(nanoseconds: 1_751_356_800_000_000_000)
        let record = SafeModeRecord.firstStart(at: t0)
        try journal.append(
            JournalRecord(kind: .state, type: "safe_mode.initial", timestamp: t0, body: Array(encoder.encode(record))), durability: .batched
        )
        var gate = try RiskGate(limits: .cautiousDefaults, restoring: record)
        let symbols: [Symbol] = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "GOOG", "TSLA", "JPM"]
        var n = 1
        var i = 0
        func input(_ x: RiskInput, _ now: Timestamp) throws {
            try journal.append(
                JournalRecord(kind: .received, type: "risk.input", timestamp: now, body: Array(encoder.encode(x))), durability: .batched)
            n += 1
            for output in gate.handle(x, now: now) {
                switch output {
                case .decision(let d):
                    try journal.append(
                        JournalRecord(
                            kind: .decision, type: "risk.decision", timestamp: now, correlationID: d.intent.rawValue,
                            body: Array(encoder.encode(d))), durability: .batched)
                case .transition(let t):
                    try journal.append(
                        JournalRecord(kind: .state, type: "safe_mode.transition", timestamp: now, body: Array(encoder.encode(t))),
                        durability: .batched)
                case .cancel(let c):
                    try journal.append(
                        JournalRecord(
                            kind: .decision, type: "risk.cancel", timestamp: now, correlationID: c.orderID,
                            body: Array(encoder.encode(c))), durability: .batched)
                case .commandResult(let r):
                    try journal.append(
                        JournalRecord(kind: .decision, type: "risk.command", timestamp: now, body: Array(encoder.encode(r))),
                        durability: .batched)
                case .alert:
                    continue
                }
                n += 1
            }
        }
        let equity = Money("100000.00")!
        try input(.portfolio(PortfolioSnapshot(asOf: t0, cash: equity, equity: equity, peakEquity: equity, startOfDayEquity: equity)), t0)
        while n < entries {
            i += 1
            let now = t0.advanced(by: .milliseconds(Int64(i)))
            let symbol = symbols[i % symbols.count]
            switch i % 10 {
            case 9:
                let id = IntentID(validating: "2025-07-01.bench\(i).\(symbol.rawValue)")!
                try input(
                    .intent(
                        IntentGroup(
                            id: id, symbol: symbol, sector: "tech", side: .buy, quantity: 10, entry: .market,
                            stopLoss: Price("95.00")!, takeProfit: Price("120.00")!, createdAt: now)), now)
            case 8:
                try journal.append(
                    JournalRecord(
                        kind: .acked, type: "ack", timestamp: now, messageID: "strategy@main-\(i)", peer: "strategy@main", body: []),
                    durability: .batched)
                n += 1
            default:
                try input(.mark(MarketMark(symbol: symbol, price: Price("100.00")!, at: now)), now)
            }
        }
        try journal.flush()
        return n
    }
}
