import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTRisk
import ASTWire
import Foundation

/// What a journal entry means in an incident's story.
public enum EventKind: String, Sendable, Codable, CaseIterable {
    case bar, scan, intent, decision, order, fill, position, mark, reconciliation
    case safeMode = "safe_mode"
    case alert, command, lifecycle, bus, other
}

/// One journal entry placed on the merged timeline.
public struct TimelineEvent: Sendable, Equatable, Codable {
    public var timestamp: Timestamp
    public var process: String
    public var seq: Int64
    /// The entry's own kind (`received`, `sent`, `decision` ...).
    public var entryKind: String
    public var type: String
    public var kind: EventKind
    public var correlationID: String?
    /// The intent id every entry of one trade shares (derived from intent, approval and client
    /// order ids), nil for entries not about one trade.
    public var chain: String?
    public var symbol: String?
    public var summary: String
    /// Where the event sorts: its timestamp, except for a bus message stamped by a clock far
    /// (over an hour) from the process's own entries around it (a replay-clock run stamps its
    /// entries with market time and its messages with the system's), which sorts at the time of
    /// the process's last own entry.
    public var sortTime = Timestamp(nanoseconds: 0)

    enum CodingKeys: String, CodingKey {
        case timestamp = "ts", process, seq, entryKind = "entry_kind", type, kind
        case correlationID = "correlation", chain, symbol, summary
    }
}

/// Which events a timeline keeps. Empty fields keep everything.
public struct TimelineFilter: Sendable {
    public var from: Timestamp?
    public var to: Timestamp?
    public var processes: Set<String> = []
    public var symbol: String?
    /// An intent, approval, client order or execution id, a symbol, or any correlation id: keeps
    /// the whole chain it belongs to (see ``Timeline/chainKey(_:)``).
    public var correlation: String?
    public var kinds: Set<EventKind> = []
    /// Bus plumbing (acks, handshakes, connections) is left out unless asked for.
    public var includeBus = false

    public init(
        from: Timestamp? = nil, to: Timestamp? = nil, processes: Set<String> = [], symbol: String? = nil,
        correlation: String? = nil, kinds: Set<EventKind> = [], includeBus: Bool = false
    ) {
        self.from = from
        self.to = to
        self.processes = processes
        self.symbol = symbol
        self.correlation = correlation
        self.kinds = kinds
        self.includeBus = includeBus
    }
}

/// The merged, causal timeline of every journal of a tree.
///
/// Entries are merged by timestamp (``TimelineEvent/sortTime``), then process name, without ever
/// reordering one process's own entries (its seq order is causal; clocks of processes differ
/// slightly, and a replay-clock run stamps entries with market time). Each entry is classified (``EventKind``), given its
/// symbol and its chain: bar -> scan candidate (by symbol and date) -> intent -> risk decision
/// -> orders `<intent>.E|S|T` -> execution reports and fills -> portfolio -> alerts.
public struct Timeline: Sendable {
    public var events: [TimelineEvent]
    /// Entries read, before filtering.
    public var entriesRead: Int

    /// Reads every journal of `directory` read-only and builds the timeline of the entries
    /// `filter` keeps.
    public static func build(_ directory: JournalDirectory, filter: TimelineFilter = TimelineFilter()) throws -> Timeline {
        var perProcess: [[TimelineEvent]] = []
        var read = 0
        let matcher = ChainMatcher(filter.correlation)
        for file in directory.files {
            let reader = try JournalReader(path: file)
            if !filter.processes.isEmpty, !filter.processes.contains(reader.process) { continue }
            var events: [TimelineEvent] = []
            var classifier = Classifier()
            var lastOwn: Timestamp?
            try reader.scan { entry in
                read += 1
                let r = entry.record
                var sortTime = r.timestamp
                if r.peer == nil {
                    lastOwn = r.timestamp
                } else if let own = lastOwn, abs(r.timestamp.nanoseconds - own.nanoseconds) > 3_600_000_000_000 {
                    sortTime = own
                }
                if let from = filter.from, r.timestamp < from { return true }
                if let to = filter.to, r.timestamp > to { return true }
                var event = classifier.classify(entry, process: reader.process)
                event.sortTime = sortTime
                if event.kind == .bus, !filter.includeBus, !filter.kinds.contains(.bus) { return true }
                if !filter.kinds.isEmpty, !filter.kinds.contains(event.kind) { return true }
                if let s = filter.symbol, event.symbol != s { return true }
                if let matcher, !matcher.matches(event) { return true }
                events.append(event)
                return true
            }
            perProcess.append(events)
        }
        return Timeline(events: merge(perProcess), entriesRead: read)
    }

    /// Merges per-process sequences by (timestamp, process), keeping each sequence's order.
    static func merge(_ lists: [[TimelineEvent]]) -> [TimelineEvent] {
        var heads = [Int](repeating: 0, count: lists.count)
        var out: [TimelineEvent] = []
        out.reserveCapacity(lists.map(\.count).reduce(0, +))
        while true {
            var best = -1
            for i in lists.indices where heads[i] < lists[i].count {
                guard best >= 0 else {
                    best = i
                    continue
                }
                let a = lists[i][heads[i]], b = lists[best][heads[best]]
                if (a.sortTime, a.process) < (b.sortTime, b.process) { best = i }
            }
            guard best >= 0 else { return out }
            out.append(lists[best][heads[best]])
            heads[best] += 1
        }
    }

    /// The intent id a correlation id belongs to: an intent id itself (`2025-07-01.breakout.AAPL`),
    /// an approval id (`appr-<intent>`) or a client order id (`<intent>.E|S|T`); nil otherwise.
    public static func chainKey(_ id: String) -> String? {
        var s = Substring(id)
        if s.hasPrefix(ApprovalID.prefix) { s = s.dropFirst(ApprovalID.prefix.count) }
        if s.count > 2, let last = s.last, "EST".contains(last), s.dropLast().hasSuffix("."),
            s.split(separator: ".").count >= 4
        {
            s = s.dropLast(2)
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, isDate(parts[0]) else { return nil }
        return String(s)
    }

    /// The symbol of an intent id (its components after the date and the strategy).
    public static func symbol(ofChain chain: String) -> String? {
        let parts = chain.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        return parts[2...].joined(separator: ".")
    }

    static func isDate(_ s: Substring) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return false }
        return b.enumerated().allSatisfy { i, c in i == 4 || i == 7 || (c >= 48 && c <= 57) }
    }

    // MARK: Output

    /// One line per event: time, process, kind, correlation, summary.
    public func table() -> String {
        var lines = ["TIME (UTC)               PROCESS            KIND            CORRELATION                         SUMMARY"]
        for e in events {
            let corr = e.chain ?? e.correlationID ?? e.symbol ?? "-"
            lines.append(
                "\(pad(e.timestamp.description, 24)) \(pad(e.process, 18)) \(pad(e.kind.rawValue, 15)) \(pad(corr, 35)) \(e.summary)")
        }
        return lines.joined(separator: "\n")
    }

    /// The events as a JSON array (timestamps as nanoseconds since the epoch).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(events)
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}

/// Decides whether an event belongs to the chain of a correlation id: the same chain, the same
/// correlation id, the scan of the intent's date, and the bars of its symbol in the days before.
struct ChainMatcher {
    let id: String
    let chain: String?
    let symbol: String?
    let date: String?
    /// Bars from four days before the intent's date to its end (the bars the scan saw).
    let barWindow: ClosedRange<Timestamp>?

    init?(_ id: String?) {
        guard let id else { return nil }
        self.id = id
        chain = Timeline.chainKey(id)
        if let chain {
            symbol = Timeline.symbol(ofChain: chain)
            let d = String(chain.prefix(10))
            date = d
            barWindow = Self.day(d).map {
                Timestamp(nanoseconds: $0 - 4 * 86_400_000_000_000)...Timestamp(nanoseconds: $0 + 86_400_000_000_000 - 1)
            }
        } else {
            symbol = nil
            date = nil
            barWindow = nil
        }
    }

    func matches(_ e: TimelineEvent) -> Bool {
        if e.correlationID == id || e.chain == id { return true }
        if let chain, e.chain == chain { return true }
        if let symbol, let date {
            if e.kind == .scan, e.correlationID == date, e.summary.contains(" \(symbol)") { return true }
            if e.kind == .bar, e.symbol == symbol, let w = barWindow, w.contains(e.timestamp) { return true }
        } else if e.symbol == id, e.kind == .bar || e.kind == .mark {
            return true
        }
        return false
    }

    /// Midnight UTC of a `YYYY-MM-DD` date, in nanoseconds.
    static func day(_ s: String) -> Int64? {
        let p = s.split(separator: "-").compactMap { Int64($0) }
        guard p.count == 3 else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let y = p[1] <= 2 ? p[0] - 1 : p[0]
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (p[1] + 9) % 12
        let doy = (153 * mp + 2) / 5 + p[2] - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return (era * 146_097 + doe - 719_468) * 86_400_000_000_000
    }
}

/// Classifies entries and writes their one-line summaries; decodes a body only where the
/// kind or the summary needs it.
struct Classifier {
    let decoder = JSONDecoder()

    static let busTypes: Set<String> = [
        "hello", "welcome", "refused", "ack", "ping", "pong", "probe", "status.request", "status.reply",
        "bus.connected", "bus.disconnected", "bus.protocol_error", "market.time", "notifier.status.request", "notifier.status",
    ]

    mutating func classify(_ entry: JournalEntry, process: String) -> TimelineEvent {
        let r = entry.record
        var event = TimelineEvent(
            timestamp: r.timestamp, process: process, seq: entry.seq, entryKind: r.kind.rawValue, type: r.type, kind: .other,
            correlationID: r.correlationID, chain: r.correlationID.flatMap(Timeline.chainKey), symbol: nil, summary: r.type)
        if let chain = event.chain { event.symbol = Timeline.symbol(ofChain: chain) }
        let peer = r.peer.map { r.kind == .sent ? " -> \($0)" : " <- \($0)" } ?? ""
        switch r.type {
        case _ where Self.busTypes.contains(r.type):
            event.kind = .bus
            event.summary = "\(r.type)\(peer)"
        case EntryTypes.Strategy.scan:
            event.kind = .scan
            event.summary = scanSummary(r.body)
        case EntryTypes.processStarted, EntryTypes.Strategy.schedule, EntryTypes.Risk.started, EntryTypes.Risk.stopped,
            EntryTypes.Notifier.started, EntryTypes.Notifier.stopped, EntryTypes.Paper.restored,
            EntryTypes.MarketData.progress, EntryTypes.MarketData.finished, EntryTypes.MarketData.installed:
            event.kind = .lifecycle
            event.summary = "\(r.type) \(String(decoding: r.body.prefix(120), as: UTF8.self))"
        case EntryTypes.Risk.decision, EntryTypes.Strategy.decision:
            event.kind = .decision
            if let d = try? decoder.decode(IntentDecision.self, from: Data(r.body)) { event.summary = "\(r.type): \(describe(d.decision))" }
        case EntryTypes.Risk.cancel, EntryTypes.Strategy.cancel:
            event.kind = .order
            event.summary = "\(r.type) \(r.correlationID ?? "")"
        case EntryTypes.Risk.command:
            event.kind = .command
        case EntryTypes.Risk.dryRun:
            event.kind = .decision
            event.summary = "DRY_RUN: approval not sent"
        case EntryTypes.Risk.transition:
            event.kind = .safeMode
            if let t = try? decoder.decode(SafeModeTransition.self, from: Data(r.body)) {
                event.summary = "Safe Mode \(t.from) -> \(t.to): \(t.cause)"
            }
        case EntryTypes.Risk.initial:
            event.kind = .safeMode
            event.summary = "Safe Mode initial record"
        case EntryTypes.Reconciler.summary:
            event.kind = .reconciliation
            if let s = try? decoder.decode(ReconciliationSummary.self, from: Data(r.body)) {
                event.summary = "reconciliation (\(s.trigger)): \(s.summary)"
            }
        case EntryTypes.Reconciler.anomaly:
            event.kind = .reconciliation
            event.summary = "anomaly: \(String(decoding: r.body.prefix(160), as: UTF8.self))"
        case EntryTypes.Notifier.sent, EntryTypes.Notifier.failed, EntryTypes.Notifier.delivered, EntryTypes.Notifier.initial:
            event.kind = .alert
            event.summary = "\(r.type) \(r.correlationID ?? "")"
        case EntryTypes.Risk.input:
            classifyInput(&event, key: Self.firstKey(r.body), body: r.body, prefix: "risk input")
        case EntryTypes.Reconciler.input:
            classifyInput(&event, key: Self.firstKey(r.body), body: r.body, prefix: "reconciler input")
        case EntryTypes.Paper.input, EntryTypes.Paper.faultResubmit:
            classifyInput(&event, key: Self.firstKey(r.body, inside: "input"), body: r.body, prefix: "paper input")
        case MessageType.lifecycle.rawValue where r.kind == .event:
            event.kind = .lifecycle
            event.chain = nil
            event.symbol = nil
            if let e = try? decoder.decode(LifecycleEventBody.self, from: Data(r.body)) {
                event.summary = "lifecycle \(e.kind) \(e.child ?? "")"
            }
        default:
            if r.kind == .received || r.kind == .sent { classifyMessage(&event, body: r.body, peer: peer) }
        }
        return event
    }

    /// A bus message (journaled as its envelope).
    mutating func classifyMessage(_ event: inout TimelineEvent, body: [UInt8], peer: String) {
        let type = event.type
        event.summary = "\(type)\(peer)"
        switch type {
        case "bar":
            event.kind = .bar
            event.symbol = event.correlationID ?? event.symbol
        case "mark":
            event.kind = .mark
            event.symbol = event.correlationID ?? event.symbol
        case "portfolio.snapshot": event.kind = .position
        case "reconciliation.result", "reconcile.request", "reconciliation.report": event.kind = .reconciliation
        case "risk.command", "risk.status", "command.result", "broker.query", "broker.state", "broker.inject", "broker.connection":
            event.kind = .command
        case "session.close": event.kind = .bar
        case "lifecycle":
            event.kind = .lifecycle
            event.chain = nil
            event.symbol = nil
        case "intent.submit", "intent.decision", "order.submit", "order.cancel", "execution.report", "alert":
            guard let env = try? EnvelopeCodec.decode(body) else {
                event.kind = .other
                return
            }
            switch env.message {
            case .intentSubmit(let g):
                event.kind = .intent
                event.summary = "intent \(g.side) \(g.quantity) \(g.symbol) \(g.entry)\(peer)"
            case .intentDecision(let d):
                event.kind = .decision
                event.summary = "decision \(describe(d.decision))\(peer)"
            case .orderSubmit(let a):
                event.kind = .order
                event.summary = "order \(a.side) \(a.quantity) \(a.symbol) \(a.entry)\(peer)"
            case .orderCancel(let c):
                event.kind = .order
                event.summary = "cancel \(c.clientOrderID): \(c.reason)\(peer)"
            case .executionReport(let report):
                describe(report, into: &event)
                event.summary += peer
            case .alert(let a):
                event.kind = .alert
                event.summary = "alert \(a.priority) \(a.title)\(peer)"
            default:
                event.kind = .other
            }
        default:
            event.kind = .other
        }
    }

    /// An input journaled by a worker (`risk.input`, `reconciler.input`, `paper.input`).
    mutating func classifyInput(_ event: inout TimelineEvent, key: String?, body: [UInt8], prefix: String) {
        event.summary = "\(prefix): \(key ?? "?")"
        switch key {
        case "intent":
            event.kind = .intent
            if let input = try? decoder.decode(RiskInput.self, from: Data(body)), case .intent(let g) = input {
                event.summary = "\(prefix): intent \(g.side) \(g.quantity) \(g.symbol) \(g.entry)"
                event.chain = g.id.rawValue
                event.symbol = g.symbol.rawValue
            }
        case "bar":
            event.kind = .bar
            event.symbol = event.correlationID ?? event.symbol
        case "mark":
            event.kind = .mark
            event.symbol = event.correlationID ?? event.symbol
        case "portfolio": event.kind = .position
        case "submit", "cancel": event.kind = .order
        case "orderRefused":
            event.kind = .order
            if let input = try? decoder.decode(RiskInput.self, from: Data(body)), case .orderRefused(let r) = input {
                event.summary = "\(prefix): \(r.broker) refused \(r.approval): \(r.code)"
                event.chain = r.intent.rawValue
            }
        case "report":
            if let input = try? decoder.decode(ReconcilerInput.self, from: Data(body)), case .report(let r) = input {
                describe(r, into: &event)
                event.summary = "\(prefix): \(event.summary)"
            } else {
                event.kind = .order
            }
        case "reconciliation", "reconciliationIncomplete": event.kind = .reconciliation
        case "lifecycle", "startedAfterUncleanExit", "brokerConnection", "sessionClose", "tick", "startDay", "initial", "sectors":
            event.kind = .lifecycle
        case "command", "journalVerificationFailed", "inject": event.kind = .command
        default: event.kind = .other
        }
    }

    func describe(_ report: ExecutionReport, into event: inout TimelineEvent) {
        event.kind = .order
        let id = report.event.clientOrderID
        event.chain = Timeline.chainKey(id.rawValue) ?? event.chain
        if let chain = event.chain { event.symbol = Timeline.symbol(ofChain: chain) }
        switch report.event {
        case .submitting(let s): event.summary = "\(id) submitting \(s.side) \(s.quantity) \(s.symbol) \(s.type)"
        case .acknowledged(_, let broker): event.summary = "\(id) acknowledged as \(broker)"
        case .accepted: event.summary = "\(id) accepted"
        case .unacknowledged(_, let detail): event.summary = "\(id) UNACKNOWLEDGED: \(detail)"
        case .fill(let f):
            event.kind = .fill
            event.symbol = f.symbol.rawValue
            event.summary = "\(id) fill \(f.executionID): \(f.side) \(f.quantity) \(f.symbol) at \(f.price)"
        case .cancelled(_, let reason): event.summary = "\(id) cancelled: \(reason)"
        case .rejected(_, let reason): event.summary = "\(id) REJECTED: \(reason)"
        case .expired: event.summary = "\(id) expired"
        case .modified(_, let quantity, let reason): event.summary = "\(id) resized to \(quantity): \(reason)"
        case .commission(let execution, _, let amount): event.summary = "\(id) commission \(amount) of \(execution) (reported late)"
        }
    }

    func describe(_ d: RiskDecision) -> String {
        switch d {
        case .approve(let a): "approve \(a.side) \(a.quantity) \(a.symbol) \(a.entry)"
        case .downgrade(let a, let rule, let detail): "downgrade to \(a.quantity) \(a.symbol): \(rule.rawValue) (\(detail))"
        case .block(let code, let detail): "block \(code.rawValue): \(detail)"
        }
    }

    func scanSummary(_ body: [UInt8]) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return "scan" }
        var symbols: [String] = []
        for group in object["candidates"] as? [[String: Any]] ?? [] {
            for c in group["candidates"] as? [[String: Any]] ?? [] {
                if let s = c["symbol"] as? String { symbols.append(s) }
            }
        }
        let intents = (object["intents"] as? [Any])?.count ?? 0
        return
            "scan \(object["date"] as? String ?? ""): \(symbols.count) candidates\(symbols.isEmpty ? "" : " " + symbols.joined(separator: " ")), \(intents) intents"
    }

    /// The first key of a JSON object (the case of an encoded enum), optionally of the object
    /// under `inside`; read from the bytes without decoding.
    static func firstKey(_ body: [UInt8], inside: String? = nil) -> String? {
        var i = 0
        func key() -> String? {
            while i < body.count, body[i] != UInt8(ascii: "\"") { i += 1 }
            let start = i + 1
            i = start
            while i < body.count, body[i] != UInt8(ascii: "\"") { i += 1 }
            guard i < body.count else { return nil }
            defer { i += 1 }
            return String(decoding: body[start..<i], as: UTF8.self)
        }
        guard let first = key() else { return nil }
        guard let inside else { return first }
        return first == inside ? key() : nil
    }
}

/// The fields of a lifecycle event the timeline shows.
struct LifecycleEventBody: Decodable {
    var kind: String
    var child: String?
}
