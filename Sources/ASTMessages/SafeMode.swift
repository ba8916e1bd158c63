import ASTCore

/// The Safe Mode state: what the risk gate lets through. Raw values are the spelling in
/// journals and `astctl status`.
public enum TradingState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// All orders that pass the rules.
    case active = "ACTIVE"
    /// Only orders that reduce an existing position: no entry from flat, no increase, no flip.
    case safeReducing = "SAFE_REDUCING"
    /// No new orders and no modifications; only cancelling resting, unfilled entries.
    case halted = "HALTED"

    public var description: String { rawValue }
}

/// Where `astctl resume --to` asks the gate to go.
public enum ResumeTarget: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case active
    case reducing

    /// The state this target names.
    public var state: TradingState { self == .active ? .active : .safeReducing }
    public var description: String { rawValue }
}

/// Why the gate is in its state: a typed kind for programs, a sentence for operators.
public struct SafeModeCause: Sendable, Equatable, Codable, CustomStringConvertible {
    /// What kind of event caused a transition. Raw values are stable.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// No earlier Safe Mode record: the first start of a new installation.
        case firstStart = "first_start"
        /// Drawdown, daily loss, leverage or concentration above its limit (``SafeModeCause/code``).
        case portfolioViolation = "portfolio_violation"
        /// A supervised child went down and its spec says `on_crash: halt` or `reduce`
        /// (``SafeModeCause/process``).
        case childDown = "child_down"
        /// The supervisor gave up on its tree.
        case supervisorGaveUp = "supervisor_gave_up"
        /// A broker reported that it lost its connection (``SafeModeCause/process``).
        case brokerDisconnected = "broker_disconnected"
        case reconciliationMismatch = "reconciliation_mismatch"
        case journalVerificationFailed = "journal_verification_failed"
        case operatorHalt = "operator_halt"
        case operatorResume = "operator_resume"
        /// ast-risk itself started after an unclean exit.
        case uncleanExit = "unclean_exit"
        /// ast-risk found its journal missing while journals of an earlier run exist: its Safe
        /// Mode state is lost, so it starts HALTED.
        case missingState = "missing_state"
    }

    public var kind: Kind
    /// The rule, for a ``Kind/portfolioViolation``.
    public var code: ReasonCode?
    /// The process concerned, for ``Kind/childDown`` and ``Kind/brokerDisconnected``.
    public var process: ProcessIdentity?
    /// The whole explanation, for `astctl status`, alerts and logs.
    public var text: String

    public init(kind: Kind, code: ReasonCode? = nil, process: ProcessIdentity? = nil, text: String) {
        self.kind = kind
        self.code = code
        self.process = process
        self.text = text
    }

    public var description: String { text }

    enum CodingKeys: String, CodingKey { case kind, code, process, text }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        code = try c.decodeIfPresent(ReasonCode.self, forKey: .code)
        if let name = try c.decodeIfPresent(String.self, forKey: .process) {
            guard let id = ProcessIdentity(parsing: name) else {
                throw DecodingError.dataCorruptedError(forKey: .process, in: c, debugDescription: "'\(name)' is not role@instance")
            }
            process = id
        } else {
            process = nil
        }
        text = try c.decode(String.self, forKey: .text)
    }

    /// The process is written as `role@instance`, like everywhere else in journals.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(code, forKey: .code)
        try c.encodeIfPresent(process?.description, forKey: .process)
        try c.encode(text, forKey: .text)
    }

    public static let firstStart = SafeModeCause(kind: .firstStart, text: "first start: no earlier Safe Mode record")
    public static let uncleanExit = SafeModeCause(
        kind: .uncleanExit, text: "ast-risk started after an unclean exit of its own: back to HALTED until an operator resumes")
}

/// One change of Safe Mode state. The shell journals it `durable` before acting on anything
/// after it, and the last one restores the gate at start (``SafeModeRecord``).
public struct SafeModeTransition: Sendable, Equatable, Codable, CustomStringConvertible {
    public var from: TradingState
    public var to: TradingState
    public var cause: SafeModeCause
    public var at: Timestamp

    public init(from: TradingState, to: TradingState, cause: SafeModeCause, at: Timestamp) {
        self.from = from
        self.to = to
        self.cause = cause
        self.at = at
    }

    public var description: String { "\(from) -> \(to) at \(at): \(cause.text)" }
}

/// The Safe Mode state to restore at start: the state, since when, and why, as the last
/// journaled ``SafeModeTransition`` left it.
public struct SafeModeRecord: Sendable, Equatable, Codable {
    public var state: TradingState
    public var since: Timestamp
    public var cause: SafeModeCause

    public init(state: TradingState, since: Timestamp, cause: SafeModeCause) {
        self.state = state
        self.since = since
        self.cause = cause
    }

    /// The state a transition left the gate in.
    public init(_ transition: SafeModeTransition) {
        self.init(state: transition.to, since: transition.at, cause: transition.cause)
    }

    /// The record of an installation whose journal holds no transition yet: ACTIVE since
    /// `at`. (Orders still wait for a portfolio snapshot and marks: `NO_PORTFOLIO`.)
    public static func firstStart(at: Timestamp) -> SafeModeRecord {
        SafeModeRecord(state: .active, since: at, cause: .firstStart)
    }
}

/// How urgent an alert is, as the notifier routes it.
public enum AlertPriority: String, Sendable, Codable, CaseIterable {
    /// Now, to a human: trading is HALTED.
    case p0 = "P0"
    /// Soon: trading is restricted or back to normal; run summaries, daily reports, fills digests.
    case p1 = "P1"
    /// Whenever convenient: nothing needs doing.
    case info = "info"
}

/// A message for the notifier. `key` names the event: never a clock reading (on the replay clock
/// the time stands still between market events, so two events would share it), but what the event
/// is (`safe-mode:HALTED`) followed by a value unique per event, usually the sender's journal
/// sequence of the entry that caused it (``event(_:)``), or a business identity that a re-send of
/// the same event repeats on purpose (`daily-report:<date>`, `order-refused:<approval>:<code>`).
public struct Alert: Sendable, Equatable, Codable {
    public var priority: AlertPriority
    public var key: String
    public var title: String
    public var text: String
    public var at: Timestamp

    public init(priority: AlertPriority, key: String, title: String, text: String, at: Timestamp) {
        self.priority = priority
        self.key = key
        self.title = title
        self.text = text
        self.at = at
    }

    /// The alert announcing `transition`: P0 when it enters HALTED, P1 otherwise. Its key says
    /// what happened (`safe-mode:HALTED`), not when: the sender makes it unique per event with
    /// ``event(_:)`` (the risk gate: the journal sequence of the input that caused it).
    public init(for transition: SafeModeTransition) {
        self.init(
            priority: transition.to == .halted ? .p0 : .p1,
            key: "safe-mode:\(transition.to.rawValue)",
            title: "AST risk gate \(transition.to.rawValue)",
            text: "\(transition.from.rawValue) -> \(transition.to.rawValue) at \(transition.at): \(transition.cause.text)",
            at: transition.at)
    }

    /// This alert with `event` joined to its key (`<key>#<event>`): `event` is unique per event
    /// at the sender (the journal sequence of the entry that caused it), never a clock reading.
    public func event(_ event: some CustomStringConvertible) -> Alert {
        var alert = self
        alert.key = "\(key)#\(event)"
        return alert
    }
}
