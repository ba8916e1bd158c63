import ASTCore
import ASTExecution
import ASTPaperBroker
import ASTRisk
import ASTWire
import Foundation

/// The brackets both execution benchmarks trade: a buy of 10 shares at a limit of 100.00 with
/// a stop at 95.00 and a target at 110.00, one symbol per bracket, and the daily bar that fills
/// the entry (it trades through 100 without touching 95 or 110).
enum ExecutionFixtures {
    static let start = Timestamp(nanoseconds: 1_704_204_000_000_000_000)
    static let quantity: Quantity = 10

    /// `X00000`, `X00001`, ...: distinct valid tickers.
    static func symbol(_ n: Int) -> Symbol {
        Symbol(validating: "X" + String(format: "%05d", n))!
    }

    /// The risk gate's approval of bracket `n` of a run named `prefix`, given at `at`.
    static func approval(_ n: Int, prefix: String, at: Timestamp) -> Approval {
        let intent = IntentID(stringLiteral: "\(prefix)-\(n)")
        return Approval(
            id: ApprovalID(for: intent), intent: intent, symbol: symbol(n), side: .buy, quantity: quantity,
            requestedQuantity: quantity, entry: .limit(Price("100.00")!), stopLoss: Price("95.00"),
            takeProfit: Price("110.00"), state: .active, at: at)
    }

    /// A daily bar of `symbol` starting at `start` that fills the entry in full (volume 1,000,000:
    /// the 10 % cap is 100,000 shares) and touches neither the stop nor the target.
    static func entryBar(_ symbol: Symbol, start: Timestamp) -> Bar {
        Bar(
            symbol: symbol, start: start, open: Price("100.50")!, high: Price("101.00")!, low: Price("99.50")!,
            close: Price("100.80")!, volume: 1_000_000)
    }
}

/// Benchmark M4.2: reconciliation of a large book, in one thread, no I/O.
///
/// The state is made by the real paper exchange (``PaperExchange``, deterministic, fixed
/// timestamps): `positions` brackets whose entries filled (a position each, its stop and target
/// working) and enough resting brackets (entry working, children held) that the broker lists
/// `orders` open orders; every report it produced is fed to a ``ReconcilerCore``, so the book
/// agrees with the broker (the clean case). In the benign case 5 % of the fill reports never
/// reach the core (missed fills) and 5 % of the resting brackets are cancelled silently at the
/// broker (their three orders are missing there); every such finding is benign and repaired.
struct ReconciliationBenchmark: Sendable {
    var repetitions: Int
    var positions: Int
    var orders: Int
    var maxFrameBytes: Int

    static let broker = "broker@paper"

    /// One prepared case: the reports that build the core, and the broker's answer.
    struct Case {
        var reports: [ExecutionReport]
        var startingCash: Money
        var state: BrokerAccountState
        var now: Timestamp

        /// A fresh core built from the reports (untimed; uniquely referenced, as in the shell).
        func core() -> ReconcilerCore {
            var core = ReconcilerCore()
            _ = core.handle(.initial(cash: startingCash), now: ExecutionFixtures.start)
            for r in reports { _ = core.handle(.report(r), now: r.at) }
            return core
        }
    }

    struct Summary {
        var positions: Int
        var openOrders: Int
        var bookOrders: Int
        var executions: Int
        var benignFindings: Int
        /// Pure `Reconciliation.reconcile`, ns per call (median over repetitions).
        var compareClean: Double
        var compareBenign: Double
        /// `ReconcilerCore.handle(.reconciliation)`, which applies the repairs.
        var handleClean: Double
        var handleBenign: Double
        /// Baseline: index the broker's open orders and positions in dictionaries and look each up in the book.
        var dictionaryPass: Double
        /// JSON of the broker's answer as one bus frame (`brokerState` envelope).
        var stateFrameBytes: Int
        var stateEncode: Double
        var stateDecode: Double
        /// The portfolio snapshot of `positions` positions as one frame (what the reconciler sends after every fill).
        var snapshotFrameBytes: Int
        /// `ReconcilerCore.snapshot` and `EnvelopeCodec.encode` of it, ns.
        var snapshotBuild: Double
        var snapshotEncode: Double
        /// The reconciler's journal entry of the reconciliation input (the whole answer, durably).
        var inputJournalBytes: Int
        /// Untimed set-up: the paper exchange making the state, and one core replay.
        var setupSeconds: Double
    }

    /// Builds the clean and the benign case.
    func prepare() throws -> (clean: Case, benign: Case) {
        let pending = max(0, (orders - 2 * positions + 2) / 3)
        var exchange = PaperExchange(name: Self.broker, config: .standard)
        var reports: [ExecutionReport] = []
        var now = ExecutionFixtures.start
        for n in 0..<(positions + pending) {
            now = now.advanced(by: .microseconds(10))
            let bracket = BracketBuilder.bracket(for: ExecutionFixtures.approval(n, prefix: "R", at: now))
            reports += exchange.handle(.submit(bracket), now: now).reports
        }
        var fillReportIDs: [String] = []
        let barStart = ExecutionFixtures.start.advanced(by: .seconds(3_600))
        for n in 0..<positions {
            now = barStart.advanced(by: .seconds(3_600)).advanced(by: .microseconds(Int64(10 * n)))
            let out = exchange.handle(.bar(ExecutionFixtures.entryBar(ExecutionFixtures.symbol(n), start: barStart)), now: now).reports
            fillReportIDs += out.filter { if case .fill = $0.event { true } else { false } }.map(\.id)
            reports += out
        }
        guard fillReportIDs.count == positions else {
            throw BenchError("expected \(positions) fills from the paper exchange, got \(fillReportIDs.count)")
        }
        let reconcileAt = now.advanced(by: .seconds(86_400))
        let clean = Case(
            reports: reports, startingCash: PaperBrokerConfig.standard.startingCash,
            state: exchange.accountState(executionsSince: Timestamp(nanoseconds: 0), now: reconcileAt), now: reconcileAt)

        // Benign differences: every 20th fill report lost, every 20th resting bracket cancelled silently at the broker.
        let lost = Set(fillReportIDs.enumerated().filter { $0.offset % 20 == 0 }.map(\.element))
        var benignExchange = exchange
        for n in stride(from: positions, to: positions + pending, by: 20) {
            let entry = ClientOrderID(intent: IntentID(stringLiteral: "R-\(n)"), leg: .entry)
            _ = benignExchange.handle(.inject(.brokerCancelSilently(entry)), now: reconcileAt)
        }
        let benign = Case(
            reports: reports.filter { !lost.contains($0.id) }, startingCash: clean.startingCash,
            state: benignExchange.accountState(executionsSince: Timestamp(nanoseconds: 0), now: reconcileAt), now: reconcileAt)
        return (clean, benign)
    }

    /// The least a comparison of this size does: index the broker's open orders and positions by
    /// id and symbol, and look each one up in the book and the portfolio.
    static func dictionaryPass(_ core: ReconcilerCore, _ state: BrokerAccountState) -> Int {
        let open = Dictionary(state.openOrders.map { ($0.spec.clientOrderID, $0) }, uniquingKeysWith: { _, last in last })
        let held = Dictionary(state.positions.map { ($0.symbol, $0) }, uniquingKeysWith: { _, last in last })
        var agree = 0
        for (id, order) in open where core.book.order(id)?.state == OrderState(order.status) { agree += 1 }
        for (symbol, p) in held where core.portfolio.positions[symbol]?.quantity == p.quantity { agree += 1 }
        return agree
    }

    /// The nanoseconds `body` takes, once.
    static func time<T>(_ body: () throws -> T) rethrows -> (UInt64, T) {
        let t0 = Monotonic.now()
        let value = try body()
        return (Monotonic.now() - t0, value)
    }

    func run(progress: @Sendable (String) -> Void) throws -> Summary {
        let t0 = Monotonic.now()
        progress("reconciliation: building \(positions) positions and \(orders) open orders with the paper exchange")
        let (clean, benign) = try prepare()
        let setup = Double(Monotonic.now() - t0) / 1e9

        // Sanity: the clean case is clean, the benign one only benign.
        let cleanCore = clean.core(), benignCore = benign.core()
        let cleanReport = Reconciliation.reconcile(
            book: cleanCore.book, portfolio: cleanCore.portfolio, broker: clean.state, now: clean.now)
        guard cleanReport.isClean else { throw BenchError("the clean case is not clean: \(cleanReport.summary.prefix(600))") }
        let benignReport = Reconciliation.reconcile(
            book: benignCore.book, portfolio: benignCore.portfolio, broker: benign.state, now: benign.now)
        guard !benignReport.isClean, !benignReport.requiresHalt else {
            throw BenchError("the benign case should have benign findings only: \(benignReport.summary.prefix(600))")
        }

        var compareClean: [Double] = [], compareBenign: [Double] = [], handleClean: [Double] = [], handleBenign: [Double] = []
        var baseline: [Double] = [], encode: [Double] = [], decode: [Double] = []
        let envelope = Envelope(
            sender: ProcessIdentity(role: .broker, instance: "paper"), seq: 7, id: "broker@paper/b7",
            correlationID: "reconciler@main/q1", timestamp: clean.now, message: .brokerState(clean.state))
        var frameBytes = 0
        for r in 0...repetitions {  // repetition 0 is the untimed warm-up
            if r > 0 { progress("reconciliation: repetition \(r) of \(repetitions)") }
            // Take turns at going first, so that load from other processes hits all alike.
            let order = r % 2 == 0 ? [0, 1, 2, 3, 4, 5] : [5, 4, 3, 2, 1, 0]
            var sample = [UInt64](repeating: 0, count: 6)
            for kind in order {
                switch kind {
                case 0:
                    sample[0] =
                        Self.time {
                            blackHole(
                                Reconciliation.reconcile(
                                    book: cleanCore.book, portfolio: cleanCore.portfolio, broker: clean.state, now: clean.now))
                        }.0
                case 1:
                    sample[1] =
                        Self.time {
                            blackHole(
                                Reconciliation.reconcile(
                                    book: benignCore.book, portfolio: benignCore.portfolio, broker: benign.state, now: benign.now))
                        }.0
                case 2:
                    var core = clean.core()
                    let (ns, out) = Self.time { core.handle(.reconciliation(trigger: "bench", broker: clean.state), now: clean.now) }
                    guard out.contains(.result(.clean)) else { throw BenchError("the clean reconciliation was not clean") }
                    sample[2] = ns
                case 3:
                    var core = benign.core()
                    let (ns, out) = Self.time { core.handle(.reconciliation(trigger: "bench", broker: benign.state), now: benign.now) }
                    guard out.contains(.result(.clean)), core.lastSummary?.repairs.count == benignReport.repairs.count else {
                        throw BenchError("the benign reconciliation did not repair everything in place")
                    }
                    sample[3] = ns
                case 4:
                    sample[4] = Self.time { blackHole(Self.dictionaryPass(cleanCore, clean.state)) }.0
                default:
                    let (e, bytes) = Self.time { EnvelopeCodec.encode(envelope) }
                    let (d, back) = try Self.time { try EnvelopeCodec.decode(bytes) }
                    guard back.message == envelope.message else { throw BenchError("the broker state did not survive JSON") }
                    frameBytes = bytes.count
                    sample[5] = e
                    sample.append(d)
                }
            }
            guard r > 0 else { continue }
            compareClean.append(Double(sample[0]))
            compareBenign.append(Double(sample[1]))
            handleClean.append(Double(sample[2]))
            handleBenign.append(Double(sample[3]))
            baseline.append(Double(sample[4]))
            encode.append(Double(sample[5]))
            decode.append(Double(sample[6]))
        }
        // What the reconciler does after every fill, twice (risk and strategy): the snapshot, encoded
        // once for the journal and once more for the frame (`BusClient.send`).
        var snapshotBuild: [Double] = [], snapshotEncode: [Double] = []
        var snapshot = Envelope(
            sender: ProcessIdentity(role: .reconciler, instance: "main"), seq: 9, id: "reconciler@main>risk@main#9",
            correlationID: nil, timestamp: clean.now, message: .portfolioSnapshot(cleanCore.snapshot(clean.now)))
        for r in 0...repetitions {
            let (b, s) = Self.time { cleanCore.snapshot(clean.now) }
            snapshot.message = .portfolioSnapshot(s)
            let (e, _) = Self.time { EnvelopeCodec.encode(snapshot) }
            if r > 0 {
                snapshotBuild.append(Double(b))
                snapshotEncode.append(Double(e))
            }
        }
        let input = try JSONEncoder.sortedKeys.encode(ReconcilerInput.reconciliation(trigger: "bench", broker: clean.state))
        return Summary(
            positions: clean.state.positions.count, openOrders: clean.state.openOrders.count, bookOrders: cleanCore.book.orders.count,
            executions: clean.state.executions.count, benignFindings: benignReport.findings.count,
            compareClean: Stats.median(compareClean), compareBenign: Stats.median(compareBenign),
            handleClean: Stats.median(handleClean), handleBenign: Stats.median(handleBenign), dictionaryPass: Stats.median(baseline),
            stateFrameBytes: frameBytes, stateEncode: Stats.median(encode), stateDecode: Stats.median(decode),
            snapshotFrameBytes: EnvelopeCodec.encode(snapshot).count, snapshotBuild: Stats.median(snapshotBuild),
            snapshotEncode: Stats.median(snapshotEncode), inputJournalBytes: input.count, setupSeconds: setup)
    }
}

extension JSONEncoder {
    /// Sorted keys, as the shells journal bodies.
    static var sortedKeys: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }
}

extension Report {
    mutating func add(reconciliation s: ReconciliationBenchmark.Summary, maxFrameBytes: Int) {
        let size = "\(s.positions) positions, \(s.openOrders) open orders (\(s.bookOrders) in the book), \(s.executions) executions"
        let base =
            "dictionary pass (index the broker's open orders and positions, look each up in the book): \(Format.duration(s.dictionaryPass))"
        add(
            ReportRow(
                benchmark: "M4.2 `Reconciliation.reconcile` (compare only), clean, \(size)",
                result: Format.duration(s.compareClean), baseline: base, ratio: Format.ratio(s.compareClean / s.dictionaryPass),
                target: "reported", verdict: "-"))
        add(
            ReportRow(
                benchmark:
                    "M4.2 `Reconciliation.reconcile`, \(s.benignFindings) benign findings (5 % of fills missed, 5 % of resting brackets cancelled silently)",
                result: Format.duration(s.compareBenign), baseline: base, ratio: Format.ratio(s.compareBenign / s.dictionaryPass),
                target: "reported", verdict: "-"))
        add(
            ReportRow(
                benchmark: "M4.2 `ReconcilerCore.handle(.reconciliation)` (compare, apply repairs, summary, snapshot), clean",
                result: Format.duration(s.handleClean), baseline: base, ratio: Format.ratio(s.handleClean / s.dictionaryPass),
                target: "reported", verdict: "-"))
        add(
            ReportRow(
                benchmark: "M4.2 `ReconcilerCore.handle(.reconciliation)`, benign findings repaired",
                result: Format.duration(s.handleBenign), baseline: base, ratio: Format.ratio(s.handleBenign / s.dictionaryPass),
                target: "reported", verdict: "-"))
        let fits = s.stateFrameBytes <= maxFrameBytes
        add(
            ReportRow(
                benchmark: "M4.2 the broker's answer (`brokerState` envelope) as one bus frame: JSON encode / decode",
                result:
                    "\(Format.bytes(s.stateFrameBytes)); encode \(Format.duration(s.stateEncode)), decode \(Format.duration(s.stateDecode))",
                baseline: "max frame \(Format.bytes(maxFrameBytes))",
                ratio: String(format: "%.2f× the maximum", Double(s.stateFrameBytes) / Double(maxFrameBytes)),
                target: "fits in one frame", verdict: Self.verdict(fits)))
        add(
            ReportRow(
                benchmark: "M4.2 diagnostic: the reconciler's journal entry of the reconciliation input (the whole answer, durably)",
                result: Format.bytes(s.inputJournalBytes), baseline: "-", ratio: "-", target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark:
                    "M4.2 diagnostic: the portfolio snapshot the reconciler sends after every fill, at \(s.positions) positions: frame size; `ReconcilerCore.snapshot`; `EnvelopeCodec.encode` (done 4× per fill: journal and frame, to risk and to strategy)",
                result:
                    "\(Format.bytes(s.snapshotFrameBytes)); build \(Format.duration(s.snapshotBuild)); encode \(Format.duration(s.snapshotEncode))",
                baseline: "-", ratio: "-", target: "-", verdict: "-"))
    }
}

extension Format {
    /// `1.23 MiB`, `456 KiB`, `789 B`.
    static func bytes(_ n: Int) -> String {
        switch n {
        case (1 << 20)...: return "\(significant(Double(n) / Double(1 << 20))) MiB"
        case (1 << 10)...: return "\(significant(Double(n) / Double(1 << 10))) KiB"
        default: return "\(n) B"
        }
    }
}
