import ASTCore
import FoundationEssentials
import Logging
import Synchronization

/// How quarantines live in a process journal, in one place for the processes that write them
/// and for `astctl quarantine list` that reads them.
///
/// - `quarantine.entry` (an event): an entry the restore could not replay, written once per
///   entry, the first time a start finds it.
/// - `quarantine.acknowledged` (a decision, durable): the operator's acknowledgement with the
///   reason; from then on the entry is skipped without halting.
public enum QuarantineJournal {
    public static let entryType = "quarantine.entry"
    public static let acknowledgedType = "quarantine.acknowledged"

    /// What a journal says about quarantines: every quarantined entry, by seq, and the seqs
    /// acknowledged (with the acknowledgement).
    public struct State: Sendable, Equatable {
        public var entries: [Int64: QuarantinedEntry] = [:]
        public var acknowledged: [Int64: QuarantineAck] = [:]
        public init() {}

        /// Quarantined entries not yet acknowledged, oldest first.
        public var pending: [QuarantinedEntry] {
            entries.keys.sorted().compactMap { acknowledged[$0] == nil ? entries[$0] : nil }
        }
    }

    /// Refuses an operator's acknowledgement that is malformed, meant for another process, or
    /// names an entry that is not pending in `state`.
    public static func validate(_ ack: QuarantineAck, process: String, state: State) -> InputRefusal? {
        if let r = ack.validate() { return r }
        guard ack.process == process else {
            return InputRefusal(.invalid, "this is \(process), not \(InputRefusal.bounded(ack.process, limit: 100))")
        }
        let pending = state.pending.map(\.seq)
        guard pending.contains(ack.seq) else {
            return InputRefusal(
                .invalid,
                "no quarantined entry seq \(ack.seq) waits for acknowledgement in \(process) "
                    + "(pending: \(pending.isEmpty ? "none" : pending.map(String.init).joined(separator: ", ")))")
        }
        return nil
    }

    /// Folds one journal entry into `state` (other entry types are ignored).
    public static func apply(_ entry: JournalEntry, to state: inout State) {
        let r = entry.record
        switch r.type {
        case entryType:
            if let q = try? JSONDecoder().decode(QuarantinedEntry.self, from: Data(r.body)) { state.entries[q.seq] = q }
        case acknowledgedType:
            if let a = try? JSONDecoder().decode(QuarantineAck.self, from: Data(r.body)) { state.acknowledged[a.seq] = a }
        default:
            break
        }
    }

    /// ``record(_:into:journal:clock:)``, then a critical log line per entry still pending that
    /// tells the operator the command that acknowledges it.
    public static func recordAndTell(
        _ quarantined: [QuarantinedEntry], into known: State, journal: Journal, clock: any WallClock, process: String, logger: Logger
    ) throws -> State {
        let state = try record(quarantined, into: known, journal: journal, clock: clock)
        for entry in state.pending {
            logger.critical(
                "QUARANTINE: \(entry); acknowledge with: astctl quarantine ack --process \(process) --seq \(entry.seq) --reason '...'")
        }
        return state
    }

    /// Reads the quarantine state of a journal (read-only; works on a running process's journal).
    public static func read(path: String) throws -> State {
        var state = State()
        let reader = try JournalReader(path: path)
        try reader.scan {
            apply($0, to: &state)
            return true
        }
        return state
    }

    /// Journals durably, once, each entry a restore skipped that `state` does not record yet (the
    /// first start that meets an entry records it); returns `state` with them.
    public static func record(_ skipped: [QuarantinedEntry], into state: State, journal: Journal, clock: any WallClock) throws -> State {
        var state = state
        for entry in skipped where state.entries[entry.seq] == nil {
            try journal.append(entryRecord(entry, at: clock.now()), durability: .durable)
            state.entries[entry.seq] = entry
        }
        return state
    }

    /// The record that quarantines `entry`.
    /// What a process whose book may be incomplete (the reconciler) tells the risk gate at a
    /// start while quarantined entries wait for the operator; nil when none does. The shell
    /// sends it and replay expects it at that start, from the same journal records.
    public static func startupMismatch(pending: [QuarantinedEntry]) -> String? {
        guard let first = pending.first else { return nil }
        return "\(pending.count) quarantined journal entr\(pending.count == 1 ? "y" : "ies"): \(first); the book may be incomplete"
    }

    public static func entryRecord(_ entry: QuarantinedEntry, at now: Timestamp) throws -> JournalRecord {
        JournalRecord(kind: .event, type: entryType, timestamp: now, body: Array(try JSONEncoder.quarantine.encode(entry)))
    }

    /// Journals the operator's acknowledgement durably (with the reason) and marks the entry
    /// acknowledged in `state`; returns the entries still pending. The caller has validated `ack`.
    public static func acknowledge(_ ack: QuarantineAck, journal: Journal, state: borrowing Mutex<State>, at now: Timestamp) throws
        -> [QuarantinedEntry]
    {
        try journal.append(acknowledgedRecord(ack, at: now), durability: .durable)
        return state.withLock { s in
            s.acknowledged[ack.seq] = ack
            return s.pending
        }
    }

    /// The record of an operator's acknowledgement.
    public static func acknowledgedRecord(_ ack: QuarantineAck, at now: Timestamp) throws -> JournalRecord {
        JournalRecord(kind: .decision, type: acknowledgedType, timestamp: now, body: Array(try JSONEncoder.quarantine.encode(ack)))
    }
}

extension JSONEncoder {
    fileprivate static var quarantine: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
