import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTReplay
import ASTRisk
import ASTRuntime
import ArgumentParser
import Foundation
import Logging

/// `ast-bench restore` (M11): a process's restore over a long journal (`--process paper`, `risk`
/// or `reconciler`), from entry 1 (as before checkpoints) and from its newest checkpoint plus the
/// tail. Each restore runs in a fresh child process (`ast-bench restore-child`), so its peak RSS
/// is its own.
struct RestoreBenchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Measure start-up restore time and peak memory with and without checkpoints over a long journal.")

    @Option(help: "Which process's journal and restore: paper, risk or reconciler.") var process = "paper"
    @Option(help: "Entries in the synthetic journal.") var entries = 10_000_000
    @Option(help: "A checkpoint every this many inputs (as AST_CHECKPOINT_EVERY).") var checkpointEvery = 10_000
    @Option(help: "Repetitions of each restore; the report gives their median.") var repetitions = 3
    @Option(name: .customLong("tmp"), help: "Where the scratch journal goes.") var tmp = "/tmp"
    @Option(help: "Reuse (or keep) the journal at this path instead of a scratch one.") var journal: String?

    func run() throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        let progress = { (s: String) in FileHandle.standardError.write(Data("ast-bench: \(s)\n".utf8)) }
        let scratch = try ScratchDirectory(prefix: "ast-bench-restore", base: tmp)
        defer { scratch.remove() }
        guard let identity = RestoreChild.identity[process] else { throw BenchError("--process is paper, risk or reconciler") }
        let path = journal ?? scratch.path + "/\(identity).sqlite"
        if !FileManager.default.fileExists(atPath: path) {
            let start = Monotonic.now()
            let written =
                switch process {
                case "risk": try Self.writeRisk(path: path, entries: entries, checkpointEvery: checkpointEvery)
                case "reconciler": try Self.writeReconciler(path: path, entries: entries, checkpointEvery: checkpointEvery)
                default: try Self.write(path: path, entries: entries, checkpointEvery: checkpointEvery)
                }
            progress("wrote \(written) entries in \(Format.duration(Double(Monotonic.now() - start)))")
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let me = try RunBenchmarks.ownExecutable()
        func child(_ mode: String) throws -> (seconds: Double, maxRSSKiB: Int, state: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: me)
            process.arguments = ["restore-child", "--mode", mode, "--journal", path, "--process", self.process]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let fields = String(decoding: out, as: UTF8.self).split(separator: " ").map(String.init)
            guard process.terminationStatus == 0, fields.count >= 3, let s = Double(fields[0]), let kib = Int(fields[1]) else {
                throw BenchError(
                    "restore-child \(mode) failed (status \(process.terminationStatus)): \(String(decoding: out, as: UTF8.self))")
            }
            return (s, kib, fields[2...].joined(separator: " ").trimmingCharacters(in: .whitespacesAndNewlines))
        }
        var rows: [(String, Double, Int, String)] = []
        for mode in ["full", "checkpoint"] {
            var runs: [(seconds: Double, maxRSSKiB: Int, state: String)] = []
            for rep in 1...repetitions {
                let r = try child(mode)
                progress(
                    "restore \(mode) \(rep)/\(repetitions): \(String(format: "%.3f", r.seconds)) s, peak RSS \(r.maxRSSKiB / 1024) MiB")
                runs.append(r)
            }
            let seconds = Stats.median(runs.map(\.seconds))
            let rss = Int(Stats.median(runs.map { Double($0.maxRSSKiB) }))
            rows.append((mode, seconds, rss, runs[0].state))
        }
        guard rows[0].3 == rows[1].3 else {
            throw BenchError("the two restores disagree: full \(rows[0].3), checkpoint \(rows[1].3)")
        }
        print(
            """
            ## M11 — restore with and without checkpoints (\(identity), \(entries) entries, \(size / 1_048_576) MiB, checkpoint every \(checkpointEvery) inputs, medians of \(repetitions))

            | restore of \(identity)'s core | time | peak RSS of the process | target |
            |---|---|---|---|
            | from entry 1 (no checkpoint; as before M11) | \(String(format: "%.2f", rows[0].1)) s | \(rows[0].2 / 1024) MiB | - |
            | newest checkpoint that verifies + tail | \(String(format: "%.3f", rows[1].1)) s | \(rows[1].2 / 1024) MiB | < 1 s whatever the history |

            Both restores end in the same state (\(rows[0].3)).
            """)
    }

    /// The synthetic journals' start, symbols and encoder (sorted keys, as the shells write).
    static let t0 = Timestamp(nanoseconds: 1_751_356_800_000_000_000)
    static let symbols: [Symbol] = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "GOOG", "TSLA", "JPM"]
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()

    /// A new journal of `process` at `path`, committing in batches of 100,000 entries.
    static func benchJournal(path: String, process: String) throws -> Journal {
        try Journal(path: path, process: process, logger: Logger(label: "bench"), batchLimit: 100_000)
    }

    /// Journals `state` as a checkpoint of `process` covering every entry before it, as the shells do.
    static func appendCheckpoint<State: Codable & Sendable>(_ state: State, process: String, to journal: Journal, at now: Timestamp) throws
    {
        try journal.appendCovering { last in
            JournalRecord(
                kind: .state, type: EntryTypes.checkpoint, timestamp: now,
                body: try JournalCheckpoint(process: process, covers: last, state: state).encoded())
        }
    }

    /// A paper broker journal as ast-broker@paper writes it: bar inputs over eight symbols (what
    /// most of its traffic is), with a checkpoint every `checkpointEvery` inputs built from an
    /// exchange that handled the same inputs.
    static func write(path: String, entries: Int, checkpointEvery: Int) throws -> Int {
        let journal = try benchJournal(path: path, process: "broker@paper")
        defer { try? journal.close() }
        let symbols = Self.symbols
        var exchange = PaperExchange(name: "broker@paper", config: .standard)
        var inputs = 0
        var written = 0
        while written < entries {
            let now = t0.advanced(by: .seconds(Int64(inputs)))
            let price = Price(units: 1_000_000 + Int64(inputs % 1000) * 100)
            let input = PaperInput.bar(
                Bar(
                    symbol: symbols[inputs % symbols.count], resolution: .minute, start: now, open: price, high: price, low: price,
                    close: price, volume: 1000))
            try journal.append(
                JournalRecord(
                    kind: .received, type: EntryTypes.Paper.input, timestamp: now,
                    body: Array(encoder.encode(PaperJournalInput(input: input)))), durability: .batched)
            _ = exchange.handle(input, now: now)
            inputs += 1
            written += 1
            if inputs % checkpointEvery == 0 && written < entries {
                let state = PaperFoldState(exchange: exchange, inputs: inputs, reportsThrough: 0)
                try appendCheckpoint(state, process: "broker@paper", to: journal, at: now)
                written += 1
            }
        }
        try journal.flush()
        return written
    }
}

/// One restore in a fresh process: prints `<seconds> <peak RSS KiB> <state summary>`.
struct RestoreChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore-child", shouldDisplay: false)
    @Option var mode: String
    @Option var journal: String
    @Option var process = "paper"

    static let identity = ["paper": "broker@paper", "risk": "risk@main", "reconciler": "reconciler@main"]

    func run() throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        if process != "paper" { return try runCore() }
        let start = Monotonic.now()
        let opened = try Journal(path: journal, process: "broker@paper", logger: Logger(label: "bench"))
        let fold: PaperJournalFold
        if mode == "full" {
            // What every start did before checkpoints: a fold from entry 1.
            fold = try PaperJournalFold.fold(name: "broker@paper", config: .standard, journal: journal) { try opened.scan(fromSeq: 1, $0) }
        } else {
            fold = try PaperJournalFold.restore(name: "broker@paper", config: .standard, journal: opened)
            guard fold.startedFromCheckpoint != nil else { throw BenchError("no checkpoint was used: \(fold.rejectedCheckpoints)") }
        }
        let seconds = Double(Monotonic.now() - start) / 1e9
        try opened.close()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let s = fold.checkpointState
        print("\(seconds) \(usage.ru_maxrss) inputs=\(s.inputs) cash=\(s.exchange.cash) marks=\(s.exchange.equity)")
    }
}

extension RestoreChild {
    /// The risk gate's or the reconciler's restore: `full` folds from entry 1, `checkpoint` is the
    /// shells' restore (``RiskJournalFold/restore(limits:journal:)``, ``ReconcilerJournalFold/restore(journal:)``).
    /// The state summary is the length and FNV-1a hash of the fold's checkpoint encoding.
    func runCore() throws {
        let name = Self.identity[process] ?? process
        let start = Monotonic.now()
        let opened = try Journal(path: journal, process: name, logger: Logger(label: "bench"))
        let bytes: [UInt8]
        var from: Int64?
        if process == "risk" {
            let fold =
                mode == "full"
                ? try RiskJournalFold.fold(limits: .cautiousDefaults, process: name, journal: journal) { try opened.scan(fromSeq: 1, $0) }
                : try RiskJournalFold.restore(limits: .cautiousDefaults, journal: opened)
            from = fold.startedFromCheckpoint
            bytes = try JournalCheckpoint(process: "", covers: 0, state: fold.checkpointState).encoded()
        } else {
            let fold =
                mode == "full"
                ? try ReconcilerJournalFold.fold(process: name, journal: journal) { try opened.scan(fromSeq: 1, $0) }
                : try ReconcilerJournalFold.restore(journal: opened)
            from = fold.startedFromCheckpoint
            bytes = try JournalCheckpoint(process: "", covers: 0, state: fold.checkpointState).encoded()
        }
        let seconds = Double(Monotonic.now() - start) / 1e9
        if mode != "full" && from == nil { throw BenchError("no checkpoint was used") }
        try opened.close()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        print("\(seconds) \(usage.ru_maxrss) state=\(bytes.count)B fnv=\(String(hash, radix: 16))")
    }
}

extension RestoreBenchmarks {
    /// ast-risk's journal as its shell writes it: mostly marks (what most of its traffic is), a
    /// portfolio snapshot every 100 inputs, an intent every 1,000 (with its decision), and a
    /// checkpoint every `checkpointEvery` inputs made from a gate that handled the same inputs.
    static func writeRisk(path: String, entries: Int, checkpointEvery: Int) throws -> Int {
        let journal = try benchJournal(path: path, process: "risk@main")
        defer { try? journal.close() }
        let symbols = Self.symbols
        let initial = SafeModeRecord.firstStart(at: t0)
        try journal.append(
            JournalRecord(kind: .state, type: EntryTypes.Risk.initial, timestamp: t0, body: Array(encoder.encode(initial))),
            durability: .batched)
        try journal.append(JournalRecord(kind: .state, type: EntryTypes.Risk.started, timestamp: t0, body: []), durability: .batched)
        var gate = try RiskGate(limits: .cautiousDefaults, restoring: initial)
        var written = 2
        var inputs = 0
        while written < entries {
            let now = t0.advanced(by: .seconds(Int64(inputs)))
            let symbol = symbols[inputs % symbols.count]
            let price = Price(units: 1_000_000 + Int64(inputs % 1000) * 100)
            let input: RiskInput
            if inputs % 100 == 0 {
                let equity = Money(units: 1_000_000_000)
                input = .portfolio(
                    PortfolioSnapshot(
                        asOf: now, cash: Money(units: 900_000_000), equity: equity, peakEquity: equity, startOfDayEquity: equity,
                        positions: [symbol: PositionSnapshot(quantity: 100, averagePrice: price, sector: "tech", lastMark: price)]))
            } else if inputs % 1000 == 1 {
                input = .intent(
                    IntentGroup(
                        id: IntentID(validating: "2025-07-01.bench\(inputs).\(symbol)")!, symbol: symbol, sector: "tech", side: .buy,
                        quantity: 10, entry: .limit(price), stopLoss: Price(units: price.units - 10_000),
                        takeProfit: Price(units: price.units + 20_000), createdAt: now))
            } else {
                input = .mark(MarketMark(symbol: symbol, price: price, at: now))
            }
            try journal.append(
                JournalRecord(kind: .received, type: EntryTypes.Risk.input, timestamp: now, body: Array(encoder.encode(input))),
                durability: .batched)
            written += 1
            inputs += 1
            for output in gate.handle(input, now: now) {
                guard let record = try output.journalRecord(at: now, encoder: encoder) else { continue }
                try journal.append(record, durability: .batched)
                written += 1
            }
            if inputs % checkpointEvery == 0 && written < entries {
                let state = RiskFoldState(
                    limits: .cautiousDefaults, gate: gate.checkpointState, lastMarker: EntryTypes.Risk.started, inputs: inputs,
                    quarantine: QuarantineCheckpoint())
                try appendCheckpoint(state, process: "risk@main", to: journal, at: now)
                written += 1
            }
        }
        try journal.flush()
        return written
    }

    /// ast-reconciler's journal as its shell writes it: the starting cash and sectors, then marks
    /// (what most of its traffic is) with a new trading day every 1,000 inputs, and a checkpoint
    /// every `checkpointEvery` inputs made from a core that handled the same inputs.
    static func writeReconciler(path: String, entries: Int, checkpointEvery: Int) throws -> Int {
        let journal = try benchJournal(path: path, process: "reconciler@main")
        defer { try? journal.close() }
        let symbols = Self.symbols.map(\.rawValue)
        var core = ReconcilerCore()
        var written = 0
        var inputs = 0
        while written < entries {
            let now = t0.advanced(by: .seconds(Int64(inputs)))
            let input: ReconcilerInput
            if inputs == 0 {
                input = .initial(cash: Money(units: 1_000_000_000))
            } else if inputs == 1 {
                input = .sectors(Dictionary(uniqueKeysWithValues: symbols.map { ($0, "tech") }))
            } else if inputs % 1000 == 0 {
                input = .startDay
            } else {
                let price = Price(units: 1_000_000 + Int64(inputs % 1000) * 100)
                input = .mark(MarketMark(symbol: Symbol(validating: symbols[inputs % symbols.count])!, price: price, at: now))
            }
            try journal.append(
                JournalRecord(kind: .received, type: EntryTypes.Reconciler.input, timestamp: now, body: Array(encoder.encode(input))),
                durability: .batched)
            _ = core.handle(input, now: now)
            written += 1
            inputs += 1
            if inputs % checkpointEvery == 0 && written < entries {
                let state = ReconcilerFoldState(core: core, inputs: inputs, quarantine: QuarantineCheckpoint())
                try appendCheckpoint(state, process: "reconciler@main", to: journal, at: now)
                written += 1
            }
        }
        try journal.flush()
        return written
    }
}
