import ASTCore
import ASTJournal
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

@testable import ASTReplay

@Suite struct VerifierTests {
    let intentID = "2025-07-01.breakout.AAPL"

    func inputs() -> [(RiskInput, Timestamp)] {
        let snapshot = PortfolioSnapshot(
            asOf: at(1), cash: Money("100000.00")!, equity: Money("100000.00")!,
            peakEquity: Money("100000.00")!, startOfDayEquity: Money("100000.00")!)
        return [
            (.portfolio(snapshot), at(1)),
            (.mark(MarketMark(symbol: "AAPL", price: Price("100.00")!, at: at(2))), at(2)),
            (.intent(intentGroup(intentID, "AAPL", quantity: 10)), at(3)),
            (.command(.halt(reason: "drill")), at(4)),
            (.intent(intentGroup("2025-07-01.breakout.MSFT", "MSFT", quantity: 10)), at(5)),
        ]
    }

    @Test func aFaithfulJournalReplaysIdentically() throws {
        let dir = try TemporaryDirectory(prefix: "replay")
        defer { dir.remove() }
        try recordRisk(dir("risk@main.sqlite"), inputs())
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        #expect(report.identical, "\(report.text())")
        #expect(report.processes[0].inputs == 5)
        #expect(report.processes[0].outputsCompared >= 3, "a decision per intent and the halt's command result")
    }

    @Test func anEditedInputIsNamedByTheChainAndByTheReplay() throws {
        let dir = try TemporaryDirectory(prefix: "replay")
        defer { dir.remove() }
        let seqs = try recordRisk(dir("risk@main.sqlite"), inputs())
        let edited = seqs[2]
        try editBody(dir("risk@main.sqlite"), seq: edited) { $0.replacingOccurrences(of: intentID, with: intentID + "X") }
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        #expect(!report.identical)
        let risk = report.processes[0]
        #expect(risk.chainDamageSeq == edited, "\(risk.chainDamage ?? "clean")")
        #expect(risk.divergence?.seq == edited, "\(report.text())")
        #expect(risk.divergence?.type == "risk.input")
        #expect(report.text().contains("risk@main entry \(edited) (risk.input)"))
    }

    @Test func aDroppedOutputIsNamed() throws {
        let dir = try TemporaryDirectory(prefix: "replay")
        defer { dir.remove() }
        let seqs = try recordRisk(dir("risk@main.sqlite"), inputs(), drop: 0)
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        let d = try #require(report.processes[0].divergence, "\(report.text())")
        #expect(report.processes[0].chainDamage == nil, "dropped before hashing: the chain is intact")
        #expect(d.seq == seqs[2], "the intent whose decision is missing: \(d)")
    }
}

@Suite struct TimelineTests {
    let intent = "2025-07-01.breakout.AAPL"
    let risk = ProcessIdentity(role: .risk)
    let broker = ProcessIdentity(role: .broker, instance: "paper")

    /// Three journals whose clocks interleave; broker's second entry is stamped earlier than its
    /// first (its own order must stay).
    func tree(_ dir: TemporaryDirectory) throws {
        let logger = Logger(label: "test")
        let strategy = try Journal(path: dir("strategy@main.sqlite"), process: "strategy@main", logger: logger)
        let scan = #"{"candidates":[{"candidates":[{"symbol":"AAPL"}]}],"date":"2025-07-01","intents":[{}]}"#
        try strategy.append(
            JournalRecord(kind: .received, type: "bar", timestamp: at(1), correlationID: "AAPL", body: []), durability: .batched)
        try strategy.append(
            JournalRecord(kind: .received, type: "bar", timestamp: at(1), correlationID: "MSFT", body: []), durability: .batched)
        try strategy.append(
            JournalRecord(kind: .decision, type: "strategy.scan", timestamp: at(10), correlationID: "2025-07-01", body: Array(scan.utf8)),
            durability: .batched)
        try strategy.close()

        try recordRisk(dir("risk@main.sqlite"), [(.intent(intentGroup(intent, "AAPL", quantity: 10)), at(11))])

        let b = try Journal(path: dir("broker@paper.sqlite"), process: "broker@paper", logger: logger)
        let fill = Fill(
            executionID: ExecutionID("x-1"), clientOrderID: ClientOrderID(validating: intent + ".E")!, symbol: "AAPL", side: .buy,
            quantity: 10, price: Price("100.00")!, commission: Money("1.00")!, at: at(20))
        let report = ExecutionReport(id: "broker@paper-r1", broker: "broker@paper", event: .fill(fill), at: at(20))
        try b.append(
            message(
                .sent, .executionReport(report), from: broker, id: "m1", correlation: intent + ".E", at: at(20), peer: "reconciler@main"),
            durability: .batched)
        try b.append(JournalRecord(kind: .acked, type: "ack", timestamp: at(12), messageID: "m1", body: []), durability: .batched)
        try b.close()
    }

    @Test func mergesByTimeAndKeepsEachProcessOrder() throws {
        let dir = try TemporaryDirectory(prefix: "timeline")
        defer { dir.remove() }
        try tree(dir)
        let timeline = try Timeline.build(try JournalDirectory(path: dir.path), filter: TimelineFilter(includeBus: true))
        let order = timeline.events.map { "\($0.process):\($0.seq)" }
        #expect(order.firstIndex(of: "broker@paper:1")! < order.firstIndex(of: "broker@paper:2")!)
        let times = timeline.events.filter { $0.process != "broker@paper" }.map(\.timestamp)
        #expect(times == times.sorted())
        #expect(timeline.entriesRead == timeline.events.count)
    }

    @Test func classifiesEntries() throws {
        let dir = try TemporaryDirectory(prefix: "timeline")
        defer { dir.remove() }
        try tree(dir)
        let events = try Timeline.build(try JournalDirectory(path: dir.path)).events
        let kinds = Dictionary(events.map { ("\($0.process):\($0.type)", $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(kinds["strategy@main:bar"] == .bar)
        #expect(kinds["strategy@main:strategy.scan"] == .scan)
        #expect(kinds["risk@main:risk.input"] == .intent)
        #expect(kinds["risk@main:risk.decision"] == .decision)
        #expect(kinds["broker@paper:execution.report"] == .fill)
        #expect(!events.contains { $0.kind == .bus }, "acks are left out by default")
        let fill = try #require(events.first { $0.kind == .fill })
        #expect(fill.chain == intent && fill.symbol == "AAPL")
        #expect(try #require(events.first { $0.kind == .scan }).summary.contains("AAPL"))
    }

    @Test func filtersByChainSymbolProcessAndTime() throws {
        let dir = try TemporaryDirectory(prefix: "timeline")
        defer { dir.remove() }
        try tree(dir)
        let journals = try JournalDirectory(path: dir.path)
        let chain = try Timeline.build(journals, filter: TimelineFilter(correlation: intent + ".E")).events
        #expect(Set(chain.map(\.kind)) == [.bar, .scan, .intent, .decision, .fill], "\(chain.map(\.type))")
        #expect(!chain.contains { $0.symbol == "MSFT" })
        #expect(try Timeline.build(journals, filter: TimelineFilter(symbol: "MSFT")).events.count == 1)
        #expect(
            try Timeline.build(journals, filter: TimelineFilter(processes: ["risk@main"])).events.allSatisfy { $0.process == "risk@main" })
        let window = try Timeline.build(journals, filter: TimelineFilter(from: at(10), to: at(11))).events
        #expect(window.allSatisfy { $0.timestamp >= at(10) && $0.timestamp <= at(11) } && !window.isEmpty)
        #expect(Timeline.chainKey("appr-" + intent) == intent)
        #expect(Timeline.chainKey(intent + ".S") == intent)
        #expect(Timeline.chainKey("broker@paper") == nil)
        let json = try JSONSerialization.jsonObject(with: try Timeline.build(journals).json()) as? [[String: Any]]
        #expect(json?.isEmpty == false)
    }

    @Test func exportWritesABundleThatReplays() throws {
        let dir = try TemporaryDirectory(prefix: "export")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir("journal"), withIntermediateDirectories: true)
        try recordRisk(dir("journal/risk@main.sqlite"), [(.intent(intentGroup(intent, "AAPL", quantity: 10)), at(11))])
        let manifest = try ReplayBundle.export(
            journalDirectory: dir("journal"), to: dir("bundle"),
            configFiles: ["ast.yaml": "risk:\n  broker: broker@paper\ntelegram:\n  bot_token: abc123\n"],
            replayConfig: ReplaySettings(), versions: ReplayBundle.versions())
        #expect(manifest.files.map(\.path).contains("journal/risk@main.sqlite"))
        let yaml = try String(contentsOfFile: dir("bundle/config/ast.yaml"), encoding: .utf8)
        #expect(!yaml.contains("abc123") && yaml.contains("bot_token: <redacted>"))
        #expect(ReplayBundle.checkManifest(dir("bundle")).isEmpty)
        let outcome = ReplayCommandRunner.run(directory: dir("bundle"), filter: TimelineFilter(), json: false, verify: true, config: nil)
        #expect(outcome.exitCode == 0, "\(outcome.stdout)\(outcome.stderr)")
    }
}
