import ASTCalendar
import ASTCore
import ASTPaperBroker
import ASTRisk
import ASTRuntime
import ASTScanInput
import ASTStrategy
import ArgumentParser
import Foundation

/// `ast scan --date D`: what the 09:00 scan of `D` would produce from the bar store, with an
/// empty portfolio; nothing is sent anywhere.
struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "Show what the 09:00 scan would produce on a date (no orders; an empty portfolio).",
        discussion: """
            Reads the bar store as the 09:00 scan of that date does (bars before the date, splits up to it), \
            runs the strategy pipeline of the configuration (strategy:) with an empty portfolio holding the \
            paper broker's starting cash (or --cash), and prints a summary, or the full ScanResult with --json.
            """)

    @Option(help: "The session to scan (YYYY-MM-DD).")
    var date: String
    @Option(parsing: .unconditional, help: "Cash of the empty portfolio, in dollars (default: paper_broker.starting_cash).")
    var cash: String?
    @Flag(help: "Print the ScanResult as JSON (sorted keys).")
    var json = false
    @OptionGroup var options: StoreOptions

    func validate() throws {
        guard LocalDate(date) != nil else { throw ValidationError("--date must be a date that exists, as YYYY-MM-DD (got '\(date)')") }
        if let cash {
            guard let m = Money(cash), m.isPositive else {
                throw ValidationError("--cash must be a positive amount in dollars (got '\(cash)')")
            }
        }
    }

    func run() async throws {
        let config = try options.loadConfig()
        let path = options.storePath(config)
        let day = LocalDate(date)!
        guard FileManager.default.fileExists(atPath: path) else {
            throw failure(
                "no bar store at \(path); fill one with `ast ingest` (e.g. ast ingest --bundled) or give --store", ExitStatus.other)
        }
        let money = cash.flatMap { Money($0) } ?? (config.paperBroker ?? PaperBrokerConfig()).startingCash
        let now = NewYorkTime.timestamp(day, LocalTime(hour: 9, minute: 0))
        let portfolio = PortfolioSnapshot(asOf: now, cash: money, equity: money, peakEquity: money, startOfDayEquity: money)
        let pipeline = PipelineRun(config: config.strategy ?? PipelineConfig())
        let input: ScanInput
        do {
            // The indicators over every bar since each symbol's first, as the tree's scan has them.
            var indicators: ScanIndicators?
            input = try ScanInputLoader.load(
                storePath: path, date: day, now: now, portfolio: portfolio, pipeline: pipeline, indicators: &indicators,
                logger: options.logger())
        } catch {
            throw failure("cannot read the bar store \(path): \(error)", ExitStatus.other)
        }
        let result = pipeline.scan(input)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(ScanSummary.text(result, cash: money, store: path), terminator: "")
        }
    }
}

/// The readable form of a ``ScanResult``, stage by stage.
enum ScanSummary {
    static func text(_ r: ScanResult, cash: Money, store: String) -> String {
        var out = "scan of \(r.date) at \(NewYorkTime.format(r.createdAt)) (store \(store), empty portfolio, cash \(cash))\n"
        func line(_ s: String) { out += s + "\n" }
        line("trading day: \(r.tradingDay ? "yes" : "no"); bars read through \(r.previousSession.map(\.description) ?? "-")")
        for note in r.notes { line("note: \(note)") }
        for p in r.configProblems { line("configuration problem: \(p)") }
        guard r.tradingDay, r.configProblems.isEmpty else { return out }

        let u = r.universe
        line("")
        line("universe: \(u.considered) considered, \(u.included.count) in, \(u.excluded.count) out")
        var counts: [String: Int] = [:]
        for e in u.excluded { for reason in e.reasons { counts[reason.code, default: 0] += 1 } }
        for (code, n) in counts.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }).prefix(5) {
            line("  \(code): \(n)")
        }

        line("")
        line("regime: \(r.regime.regime)")
        for reason in r.regime.reasons { line("  \(reason)") }

        line("")
        line("candidates:")
        for d in r.candidates {
            line("  \(d.detector): \(d.candidates.count)")
            for c in d.candidates { line("    \(c.symbol) close \(c.close): \(c.summary)") }
        }
        if !r.filteredOut.isEmpty {
            line("")
            line("filtered out: \(r.filteredOut.count)")
            for f in r.filteredOut {
                line("  \(f.symbol) (\(f.detector)): " + f.rejections.map { "\($0.filter): \($0.reason)" }.joined(separator: "; "))
            }
        }
        if !r.eventBlocks.isEmpty {
            line("")
            line("event blocks: \(r.eventBlocks.count)")
            for b in r.eventBlocks { line("  \(b.symbol) (\(b.detector)): \(b.reason)") }
        }
        if !r.skipped.isEmpty {
            line("")
            line("skipped by the strategy: \(r.skipped.count)")
            for s in r.skipped { line("  \(s.symbol) (\(s.detector)): \(s.code): \(s.reason)") }
        }
        line("")
        line("intents: \(r.intents.count)")
        for i in r.intents {
            line(
                "  \(i.id) \(i.side) \(i.quantity) \(i.symbol) entry \(i.entry) stop \(i.stopLoss.map(\.description) ?? "-") target \(i.takeProfit.map(\.description) ?? "-")"
            )
            if let s = r.sizing.first(where: { $0.symbol == i.symbol }) {
                line("    sizing \(s.method): \(s.explanation)")
            }
            if let why = r.rationales.first(where: { $0.intent == i.id }) {
                line("    why (\(why.detector)): \(why.rationale)")
            }
        }
        return out
    }
}
