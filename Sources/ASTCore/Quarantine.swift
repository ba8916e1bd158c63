/// A journaled input that a process's core could not replay at start (it failed to decode, or
/// its validation now refuses it): skipped on every restore, and the process stays HALTED (or
/// not ready) until an operator acknowledges it.
public struct QuarantinedEntry: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The process whose journal holds the entry (`broker@paper`).
    public var process: String
    /// The journal file, as the process opened it.
    public var journal: String
    /// The entry's sequence number in that journal.
    public var seq: Int64
    /// The entry's type (`paper.input`).
    public var type: String
    /// Why replaying it failed (bounded).
    public var cause: String

    public init(process: String, journal: String, seq: Int64, type: String, cause: String) {
        self.process = process
        self.journal = journal
        self.seq = seq
        self.type = type
        self.cause = InputRefusal.bounded(cause)
    }

    public var description: String {
        "\(process) journal \(journal) entry seq \(seq) (\(type)) quarantined: \(cause)"
    }
}

/// An operator's acknowledgement of a quarantined entry (`astctl quarantine ack`): the entry
/// stays skipped on every later restore and the process goes on.
public struct QuarantineAck: Sendable, Equatable, Codable {
    /// The process whose entry is acknowledged (`broker@paper`).
    public var process: String
    public var seq: Int64
    /// Why the operator lets the process go on without it.
    public var reason: String

    public init(process: String, seq: Int64, reason: String) {
        self.process = process
        self.seq = seq
        self.reason = reason
    }

    /// Refuses an acknowledgement with no reason, a reason beyond ``InputCheck/maxTextBytes``
    /// or a sequence number that no journal can hold.
    public func validate() -> InputRefusal? {
        if reason.allSatisfy(\.isWhitespace) {
            return InputRefusal(.invalid, "a quarantine acknowledgement needs the operator's reason")
        }
        if let r = InputCheck.text(reason, "reason") { return r }
        if let r = InputCheck.text(process, "process", max: InputCheck.maxIdentifierBytes) { return r }
        return InputCheck.integer(seq, "seq", in: 1...Int64.max)
    }
}
