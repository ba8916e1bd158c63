import ASTCalendar
import ASTCore
import ASTEngine
import ASTEngineData
import ASTExecution
import ASTJournal
import ASTMarketData
import ASTPaperBroker
import ASTReport
import ASTRisk
import ASTRuntime
import ASTStrategy
import ArgumentParser
import Foundation

/// `ast engine`: runs the in-process engine over the bar store's sessions with the configuration
/// the tree reads, prints what it traded, and with `--compare-state-dir` compares it with what a
/// tree run journaled (trade for trade, printing the first difference).
struct EngineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine", abstract: "Run the in-process trading engine over the bar store's sessions (and compare with a tree run).",
        discussion: """
            Plays --sessions NYSE sessions from --from (default: marketdata.replay) through the engine: the 09:00 scan, \
            the risk gate, the paper exchange and the reconciler, as the tree's processes do. Prints one line per session, \
            or the whole output as JSON with --json. With --compare-state-dir DIR it reads the tree's journals under \
            DIR/journal and compares the trading content (TradingContent's canonical lines: intents, decisions, orders, fills, \
            final portfolio), then intents, risk decisions, execution reports with their market times and Safe Mode \
            transitions item by item; exit 0 when they match, 3 with the first difference when not.
            """)

    @Option(help: "The first session (YYYY-MM-DD); default: marketdata.replay.from.")
    var from: String?
    @Option(help: "How many sessions; default: marketdata.replay.sessions.")
    var sessions: Int?
    @Flag(help: "Print the engine's whole output as JSON (sorted keys).")
    var json = false
    @Option(help: "A tree's state directory whose journals to compare the engine's trading with.")
    var compareStateDir: String?
    @OptionGroup var options: StoreOptions

    func validate() throws {
        if let from, LocalDate(from) == nil { throw ValidationError("--from must be a date as YYYY-MM-DD (got '\(from)')") }
        if let sessions, sessions < 1 { throw ValidationError("--sessions must be at least 1 (got \(sessions))") }
    }

    func run() async throws {
        let config = try options.loadConfig()
        let path = options.storePath(config)
        guard FileManager.default.fileExists(atPath: path) else {
            throw failure("no bar store at \(path); fill one with `ast ingest --bundled` or give --store", ExitStatus.other)
        }
        let market: EngineMarket
        do {
            let store = try BarStore(path: path, logger: options.logger())
            defer { try? store.close() }
            market = try EngineMarketData.load(from: store)
        } catch {
            throw failure("cannot read the bar store \(path): \(error)", ExitStatus.other)
        }
        let replay = (config.marketdata ?? .standard).replay
        let start = from.flatMap { LocalDate($0) } ?? replay.fromDate
        let played = market.sessions(from: start, count: sessions ?? replay.sessions)
        let engineConfig = EngineConfig(
            pipeline: config.strategy ?? PipelineConfig(), limits: config.risk.limits,
            paper: config.paperBroker ?? .standard, brokerName: config.risk.broker)
        let output: EngineOutput
        let began = ContinuousClock.now
        do {
            output = try Engine(config: engineConfig, market: market).run(sessions: played)
        } catch {
            throw failure("\(error)", ExitStatus.other)
        }
        let elapsed = ContinuousClock.now - began
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
        } else {
            print(EngineText.summary(output, sessions: played, elapsed: elapsed))
        }
        guard let dir = compareStateDir else { return }
        let comparison = try TradingComparison.compare(output, withTreeIn: dir)
        print(comparison.text)
        if !comparison.matched { throw ExitCode(3) }
    }
}

/// Readable engine results.
enum EngineText {
    static func summary(_ o: EngineOutput, sessions: [Session], elapsed: Duration) -> String {
        var lines: [String] = []
        for s in o.sessions {
            lines.append(
                "\(s.date)  intents \(s.intents)  approved \(s.approved)  fills \(s.fills)  \(s.state.rawValue)  "
                    + "equity \(s.equity)  positions \(s.positions)  open orders \(s.openOrders)")
        }
        let maxDD = o.equity.map(\.drawdownBps).max() ?? 0
        let first = sessions.first.map(\.date.description) ?? "-", last = sessions.last.map(\.date.description) ?? "-"
        lines.append(
            "engine: \(sessions.count) sessions \(first)..\(last): \(o.intents.count) intents, "
                + "\(o.decisions.filter { $0.decision.approval != nil }.count) approved, \(o.fills.count) fills, "
                + "\(o.transitions.count) Safe Mode transitions, final equity \(o.equity.last.map(\.equity.description) ?? "-"), "
                + "max drawdown \(Double(maxDD) / 100)% (\(o.barsMatched) bar-symbols in \(elapsed))")
        return lines.joined(separator: "\n")
    }
}

/// The trading content of a run, engine or tree, in the order it happened.
struct TreeTrading {
    var intents: [IntentGroup] = []
    var decisions: [IntentDecision] = []
    var events: [ExecutionEvent] = []
    /// When each of ``events`` was reported.
    var eventTimes: [Timestamp] = []
    var transitions: [SafeModeTransition] = []

    init() {}

    init(_ o: EngineOutput) {
        intents = o.intents
        decisions = o.decisions
        events = o.reports.map(\.event)
        eventTimes = o.reports.map(\.at)
        transitions = o.transitions
    }

    /// From the tree's journals: the risk gate's (intents it received, its decisions, its
    /// transitions) and the reconciler's (every execution report it handled, once).
    static func read(stateDir: String) throws -> TreeTrading {
        var t = TreeTrading()
        let decoder = JSONDecoder()
        let risk = try JournalReader(path: "\(stateDir)/journal/risk@main.sqlite")
        try risk.scan { e in
            switch e.record.type {
            case EntryTypes.Risk.input:
                if case .intent(let g) = try decoder.decode(RiskInput.self, from: Data(e.record.body)) { t.intents.append(g) }
            case EntryTypes.Risk.decision:
                t.decisions.append(try decoder.decode(IntentDecision.self, from: Data(e.record.body)))
            case EntryTypes.Risk.transition:
                t.transitions.append(try decoder.decode(SafeModeTransition.self, from: Data(e.record.body)))
            default: break
            }
            return true
        }
        var seen = Set<String>()
        let reconciler = try JournalReader(path: "\(stateDir)/journal/reconciler@main.sqlite")
        try reconciler.scan { e in
            guard e.record.kind == .received, e.record.type == EntryTypes.Reconciler.input else { return true }
            if case .report(let r) = try decoder.decode(ReconcilerInput.self, from: Data(e.record.body)), seen.insert(r.id).inserted {
                t.events.append(r.event)
                t.eventTimes.append(r.at)
            }
            return true
        }
        return t
    }
}

/// An execution report's event and the market time it was reported at (the report id is left
/// out: it numbers reports the broker process may also make for other reasons).
struct TimedEvent: Encodable, Equatable {
    var at: Timestamp
    var event: ExecutionEvent
}

extension TreeTrading {
    var timedEvents: [TimedEvent] { zip(eventTimes, events).map { TimedEvent(at: $0, event: $1) } }
}

/// Engine against tree, item by item.
struct TradingComparison {
    var matched: Bool
    var text: String

    /// Engine against tree: the canonical trading content first (``TradingContent``: intents,
    /// decisions, orders, fills, final portfolio, line by line, as the determinism test compares
    /// two tree runs), then, item by item in the order things happened, the intents, decisions,
    /// execution reports with their market times and Safe Mode transitions; the text names the
    /// earliest difference in market time (the one that explains the others).
    /// An engine run against the tree whose journals are under `stateDir` (for `--compare-state-dir`).
    static func compare(_ output: EngineOutput, withTreeIn dir: String) throws -> TradingComparison {
        let tree: TreeTrading, treeContent: TradingContent
        do {
            tree = try TreeTrading.read(stateDir: dir)
            treeContent = try TradingContent.read(stateDirectory: dir)
        } catch {
            throw failure("cannot read the tree's journals under \(dir)/journal: \(error)", ExitStatus.other)
        }
        return compare(engine: TreeTrading(output), tree: tree, engineContent: output.tradingContent, treeContent: treeContent)
    }

    static func compare(engine e: TreeTrading, tree t: TreeTrading, engineContent: TradingContent, treeContent: TradingContent)
        -> TradingComparison
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func show<T: Encodable>(_ v: T?) -> String {
            guard let v else { return "(nothing)" }
            return (try? String(decoding: encoder.encode(v), as: UTF8.self)) ?? "\(v)"
        }
        /// The first index where the lists differ, when the engine's item there happened, and the text.
        func first<T: Encodable & Equatable>(_ name: String, _ a: [T], _ b: [T], _ time: (Int) -> Timestamp?)
            -> (Timestamp, String)?
        {
            for i in 0..<max(a.count, b.count) {
                let x = i < a.count ? a[i] : nil, y = i < b.count ? b[i] : nil
                if x != y {
                    let text =
                        "first difference in \(name) #\(i + 1) (engine \(a.count), tree \(b.count)):\n  engine: \(show(x))\n  tree:   \(show(y))"
                    return (time(i) ?? Timestamp(nanoseconds: .max), text)
                }
            }
            return nil
        }
        let fills = { (t: TreeTrading) in t.events.compactMap { if case .fill(let f) = $0 { f } else { nil } } }
        let counts =
            "\(e.intents.count) intents, \(e.decisions.count) decisions, \(e.events.count) execution reports "
            + "(\(fills(e).count) fills), \(e.transitions.count) Safe Mode transitions"
        func at<T>(_ a: [T], _ b: [T], _ i: Int, _ f: (T) -> Timestamp) -> Timestamp? {
            [i < a.count ? f(a[i]) : nil, i < b.count ? f(b[i]) : nil].compactMap { $0 }.min()
        }
        let (ef, tf) = (fills(e), fills(t))
        // The earliest difference in market time is the one that explains the others.
        let diffs = [
            first("intents", e.intents, t.intents) { at(e.intents, t.intents, $0, \.createdAt) },
            first("risk decisions", e.decisions, t.decisions) { at(e.decisions, t.decisions, $0, \.at) },
            first("fills", ef, tf) { at(ef, tf, $0, \.at) },
            first("execution reports", e.timedEvents, t.timedEvents) { at(e.eventTimes, t.eventTimes, $0, { $0 }) },
            first("Safe Mode transitions", e.transitions, t.transitions) { at(e.transitions, t.transitions, $0, \.at) },
        ].compactMap { $0 }.sorted { $0.0 < $1.0 }.map(\.1)
        let a = engineContent.lines, b = treeContent.lines
        if let i = (0..<max(a.count, b.count)).first(where: { i in (i < a.count ? a[i] : nil) != (i < b.count ? b[i] : nil) }) {
            let line =
                "first difference in the trading content, line \(i + 1) (engine \(a.count) lines, tree \(b.count)):\n"
                + "  engine: \(i < a.count ? a[i] : "(nothing)")\n  tree:   \(i < b.count ? b[i] : "(nothing)")"
            let earliest = diffs.first.map { "\nearliest in market time: \($0)" } ?? ""
            return TradingComparison(matched: false, text: "parity: the tree did NOT match the engine; \(line)\(earliest)")
        }
        if let d = diffs.first {
            return TradingComparison(matched: false, text: "parity: the tree did NOT match the engine; \(d)")
        }
        let pnl = ef.reduce(Int128(0)) { acc, f in
            let n = Int128(f.quantity.shares) * Int128(f.price.units)
            return acc + (f.side == .sell ? n : -n) - Int128(f.commission.units)
        }
        return TradingComparison(
            matched: true,
            text: "parity: the tree matched the engine trade for trade: \(counts); "
                + "\(a.count) lines of trading content equal; "
                + "net cash flow of the fills \(Money(units: Int64(clamping: pnl)))")
    }
}

extension EngineOutput {
    /// The engine's canonical trading content, in the form ``TradingContent/read(stateDirectory:)``
    /// reads from a tree's journals.
    var tradingContent: TradingContent {
        TradingContent.make(intents: intents, decisions: decisions, reports: reports, portfolio: portfolio ?? ReconcilerCore().portfolio)
    }
}
