import ASTCore
import ASTJournal
import ASTProcessKit
import Foundation

/// The journal entry types every real-broker adapter (`broker@ibkr`, `broker@alpaca`) writes, under
/// its own prefix (`ibkr.input`, `alpaca.report` ...); an adapter adds its own types beside them.
public struct RealBrokerJournalTypes: Sendable {
    /// An input handled (a bracket, a cancel, a resize), durable, before anything is sent to the broker.
    public let input: String
    /// One message from the broker, as decoded (batched; its detail bounded).
    public let received: String
    /// One execution report, durable before it is handed to the bus (its id is its sequence).
    public let report: String

    public init(prefix: String) {
        input = "\(prefix).input"
        received = "\(prefix).received"
        report = "\(prefix).report"
    }
}

/// The execution reports of a real-broker adapter: each journaled (durably) and delivered once per
/// ``ExecutionEvent/reportKey``, numbered `<broker>-r<n>` in sequence; rebuilt from the journal at
/// start, so that a report re-derived after a crash (a stream replay, a REST catch-up, a sync) is
/// not sent again.
public struct RealBrokerReports: Sendable {
    /// The broker process (`broker@ibkr`): the reports' `broker` and their ids' prefix.
    public let broker: String
    /// The journal entry type the reports are written under.
    public let type: String
    /// The keys of the reports journaled.
    public private(set) var keys: Set<String> = []
    /// The sequence of the last report journaled.
    public private(set) var through: Int64 = 0

    public init(broker: String, type: String) {
        self.broker = broker
        self.type = type
    }

    /// Rebuilds the reports from `journal`: every entry of ``type`` is decoded and taken back (and
    /// handed to `restored`); every other entry goes to `other`. A report that does not decode
    /// stops the restore (the adapter's own journal is broken: the process exits, the tree halts).
    public static func restore(
        broker: String, type: String, from journal: Journal, restored: (ExecutionReport) -> Void = { _ in },
        other: (JournalRecord) throws -> Void
    ) throws -> RealBrokerReports {
        var reports = RealBrokerReports(broker: broker, type: type)
        try journal.scan(fromSeq: 1) { entry in
            let r = entry.record
            if r.type == type {
                let rep = try JSONDecoder().decode(ExecutionReport.self, from: Data(r.body))
                reports.keys.insert(rep.event.reportKey)
                reports.through = max(reports.through, rep.sequence ?? 0)
                restored(rep)
            } else {
                try other(r)
            }
            return true
        }
        return reports
    }

    /// Whether a report of this key was journaled.
    public func contains(_ key: String) -> Bool { keys.contains(key) }

    /// Journals (durably) and delivers one report, once per key: nil when it was already sent.
    public mutating func report(
        _ event: ExecutionEvent, at: Timestamp, journal: Journal, deliver: ([ExecutionReport]) throws -> Void
    ) throws -> ExecutionReport? {
        let key = event.reportKey
        guard !keys.contains(key) else { return nil }
        keys.insert(key)
        through += 1
        let rep = ExecutionReport(id: "\(broker)-r\(through)", broker: broker, event: event, at: at)
        try journal.append(
            JournalRecord(
                kind: .sent, type: type, timestamp: rep.at, correlationID: event.clientOrderID.rawValue,
                body: Array(try JSONEncoder.sorted.encode(rep))), durability: .durable)
        try deliver([rep])
        return rep
    }
}
