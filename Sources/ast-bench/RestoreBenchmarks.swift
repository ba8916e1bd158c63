import ASTCore
import ASTJournal
import ASTPaperBroker
import ASTReplay
import ASTRuntime
import ArgumentParser
import Foundation
import Logging

/// `ast-bench restore` (M11): the paper broker's restore over a long journal, from entry 1 (as
/// before checkpoints) and from its newest checkpoint plus the tail. Each restore runs in a
/// fresh child process (`ast-bench restore-child`), so its peak RSS is its own.
struct RestoreBenchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Measure start-up restore time and peak memory with and without checkpoints over a long journal.")

    @Option(help: "Entries in the synthetic paper journal.") var entries = 10_000_000
    @Option(help: "A checkpoint every this many inputs (as AST_CHECKPOINT_EVERY).") var checkpointEvery = 10_000
    @Option(help: "Repetitions of each restore; the report gives their median.") var repetitions = 3
    @Option(name: .customLong("tmp"), help: "Where the scratch journal goes.") var tmp = "/tmp"
    @Option(help: "Reuse (or keep) the journal at this path instead of a scratch one.") var journal: String?

    func run() throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        let progress = { (s: String) in FileHandle.standardError.write(Data("ast-bench: \(s)\n".utf8)) }
        let scratch = try ScratchDirectory(prefix: "ast-bench-restore", base: tmp)
        defer { scratch.remove() }
        let path = journal ?? scratch.path + "/broker@paper.sqlite"
        if !FileManager.default.fileExists(atPath: path) {
            let start = Monotonic.now()
            let written = try Self.write(path: path, entries: entries, checkpointEvery: checkpointEvery)
            progress("wrote \(written) entries in \(Format.duration(Double(Monotonic.now() - start)))")
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let me = try RunBenchmarks.ownExecutable()
        func child(_ mode: String) throws -> (seconds: Double, maxRSSKiB: Int, state: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: me)
            process.arguments = ["restore-child", "--mode", mode, "--journal", path]
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
            ## M11 — restore with and without checkpoints (\(entries) entries, \(size / 1_048_576) MiB, checkpoint every \(checkpointEvery) inputs, medians of \(repetitions))

            | restore of ast-broker@paper's exchange | time | peak RSS of the process | target |
            |---|---|---|---|
            | from entry 1 (no checkpoint; as before M11) | \(String(format: "%.2f", rows[0].1)) s | \(rows[0].2 / 1024) MiB | - |
            | newest checkpoint that verifies + tail | \(String(format: "%.3f", rows[1].1)) s | \(rows[1].2 / 1024) MiB | < 1 s whatever the history |

            Both restores end in the same state (\(rows[0].3)).
            """)
    }

    /// A paper broker journal as ast-broker@paper writes it: bar inputs over eight symbols (what
    /// most of its traffic is), with a checkpoint every `checkpointEvery` inputs built from an
    /// exchange that handled the same inputs.
    static func write(path: String, entries: Int, checkpointEvery: Int) throws -> Int {
        let journal = try Journal(path: path, process: "broker@paper", logger: Logger(label: "bench"), batchLimit: 100_000)
        defer { try? journal.close() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let t0 = Timestamp(nanoseconds: 1_751_356_800_000_000_000)
        let symbols: [Symbol] = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "GOOG", "TSLA", "JPM"]
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
                try journal.appendCovering { last in
                    JournalRecord(
                        kind: .state, type: EntryTypes.checkpoint, timestamp: now,
                        body: try JournalCheckpoint(process: "broker@paper", covers: last, state: state).encoded())
                }
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

    func run() throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
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
