import ASTCore
import ASTJournal
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import GRDB
import Logging

@testable import ASTReplay

let t0 = Timestamp(nanoseconds: 1_751_356_800_000_000_000)  // 2025-07-01T08:00:00Z

func at(_ seconds: Int64) -> Timestamp { t0.advanced(by: .seconds(seconds)) }

let sorted: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = .sortedKeys
    return e
}()

func intentGroup(_ id: String, _ symbol: Symbol, quantity: Int64) -> IntentGroup {
    IntentGroup(
        id: IntentID(validating: id)!, symbol: symbol, sector: "tech", side: .buy, quantity: Quantity(quantity),
        entry: .market, stopLoss: Price("95.00")!, takeProfit: Price("120.00")!, createdAt: t0)
}

/// Writes a risk journal the way ast-risk does: the initial record, then each input followed by
/// the gate's outputs. `drop` leaves out the n-th recorded output (0-based).
@discardableResult
func recordRisk(_ path: String, _ inputs: [(RiskInput, Timestamp)], drop: Int? = nil) throws -> [Int64] {
    let journal = try Journal(path: path, process: "risk@main", logger: Logger(label: "test"))
    defer { try? journal.close() }
    let record = SafeModeRecord.firstStart(at: t0)
    try journal.append(
        JournalRecord(kind: .state, type: "safe_mode.initial", timestamp: t0, body: Array(sorted.encode(record))), durability: .batched)
    var gate = try RiskGate(limits: .cautiousDefaults, restoring: record)
    var inputSeqs: [Int64] = []
    var n = 0
    for (input, now) in inputs {
        inputSeqs.append(
            try journal.append(
                JournalRecord(kind: .received, type: "risk.input", timestamp: now, body: Array(sorted.encode(input))),
                durability: .batched))
        for output in gate.handle(input, now: now) {
            let entry: JournalRecord
            switch output {
            case .decision(let d):
                entry = JournalRecord(
                    kind: .decision, type: "risk.decision", timestamp: now, correlationID: d.intent.rawValue,
                    body: Array(try sorted.encode(d)))
            case .transition(let t):
                entry = JournalRecord(kind: .state, type: "safe_mode.transition", timestamp: now, body: Array(try sorted.encode(t)))
            case .cancel(let c):
                entry = JournalRecord(
                    kind: .decision, type: "risk.cancel", timestamp: now, correlationID: c.orderID, body: Array(try sorted.encode(c)))
            case .commandResult(let r):
                entry = JournalRecord(kind: .decision, type: "risk.command", timestamp: now, body: Array(try sorted.encode(r)))
            case .alert: continue
            }
            defer { n += 1 }
            if n == drop { continue }
            try journal.append(entry, durability: .batched)
        }
    }
    return inputSeqs
}

/// Changes one entry's body in place without fixing its hash, as an edit by hand would.
func editBody(_ path: String, seq: Int64, _ change: (String) -> String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.write { db in
        let body = try Data.fetchOne(db, sql: "SELECT body FROM entries WHERE seq = ?", arguments: [seq])!
        let changed = change(String(decoding: body, as: UTF8.self))
        try db.execute(sql: "UPDATE entries SET body = ? WHERE seq = ?", arguments: [Data(changed.utf8), seq])
    }
    try queue.close()
}

/// A bus message entry as the bus journals it.
func message(
    _ kind: EntryKind, _ message: Message, from sender: ProcessIdentity, id: String, correlation: String?, at time: Timestamp, peer: String
) -> JournalRecord {
    let env = Envelope(sender: sender, seq: 1, id: id, correlationID: correlation, timestamp: time, message: message)
    return JournalRecord(
        kind: kind, type: env.message.type.rawValue, timestamp: time, messageID: id, correlationID: correlation, peer: peer,
        body: EnvelopeCodec.encode(env))
}
