import ASTCore

/// The name of a message kind on the wire (`hello`, `ack`, `intent.submit` ...).
public struct MessageType: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (a: MessageType, b: MessageType) -> Bool { a.rawValue < b.rawValue }

    public static let hello = MessageType(rawValue: "hello")
    public static let welcome = MessageType(rawValue: "welcome")
    public static let refused = MessageType(rawValue: "refused")
    public static let ack = MessageType(rawValue: "ack")
    public static let ping = MessageType(rawValue: "ping")
    public static let pong = MessageType(rawValue: "pong")
    public static let probe = MessageType(rawValue: "probe")
    public static let statusRequest = MessageType(rawValue: "status.request")
    public static let statusReply = MessageType(rawValue: "status.reply")
    public static let lifecycle = MessageType(rawValue: "lifecycle")
    public static let intentSubmit = MessageType(rawValue: "intent.submit")
    public static let intentDecision = MessageType(rawValue: "intent.decision")
    public static let orderSubmit = MessageType(rawValue: "order.submit")
    public static let portfolioSnapshot = MessageType(rawValue: "portfolio.snapshot")
    public static let mark = MessageType(rawValue: "mark")
    public static let brokerConnection = MessageType(rawValue: "broker.connection")
    public static let reconciliationResult = MessageType(rawValue: "reconciliation.result")
    public static let riskCommand = MessageType(rawValue: "risk.command")
    public static let riskStatus = MessageType(rawValue: "risk.status")
    public static let alert = MessageType(rawValue: "alert")
    public static let executionReport = MessageType(rawValue: "execution.report")
    public static let orderCancel = MessageType(rawValue: "order.cancel")
    public static let bar = MessageType(rawValue: "bar")
    public static let sessionClose = MessageType(rawValue: "session.close")
    public static let brokerQuery = MessageType(rawValue: "broker.query")
    public static let brokerState = MessageType(rawValue: "broker.state")
    public static let brokerInject = MessageType(rawValue: "broker.inject")
    public static let commandResult = MessageType(rawValue: "command.result")
    public static let reconcileRequest = MessageType(rawValue: "reconcile.request")
    public static let reconciliationReport = MessageType(rawValue: "reconciliation.report")
    public static let marketTime = MessageType(rawValue: "market.time")
    public static let notifierStatusRequest = MessageType(rawValue: "notifier.status.request")
    public static let notifierStatus = MessageType(rawValue: "notifier.status")
    public static let busStatusRequest = MessageType(rawValue: "bus.status.request")
    public static let busStatus = MessageType(rawValue: "bus.status")
    public static let quarantineAck = MessageType(rawValue: "quarantine.ack")
    public static let marketSettle = MessageType(rawValue: "market.settle")
    public static let settled = MessageType(rawValue: "market.settled")
    public static let openEntriesQuery = MessageType(rawValue: "entries.open.query")
    public static let openEntries = MessageType(rawValue: "entries.open")
}

/// How a message type travels: best effort, or journaled by the sender, re-sent until
/// acknowledged and deduplicated by the receiver on its message id.
public enum Delivery: String, Sendable, Codable {
    case bestEffort = "best_effort"
    case acknowledged
}

/// First message on every connection, from the connecting side.
public struct Hello: Codable, Sendable, Equatable {
    public var role: Role
    public var instance: String
    public var protocolVersion: Int
    public var pid: Int32

    public init(role: Role, instance: String, protocolVersion: Int = MessageCatalog.protocolVersion, pid: Int32) {
        self.role = role
        self.instance = instance
        self.protocolVersion = protocolVersion
        self.pid = pid
    }

    enum CodingKeys: String, CodingKey {
        case role, instance, pid
        case protocolVersion = "protocol_version"
    }
}

/// The accepting side's answer to an admitted hello.
public struct Welcome: Codable, Sendable, Equatable {
    public var role: Role
    public var instance: String
    public var pid: Int32
    public var maxFrameBytes: Int

    public init(role: Role, instance: String, pid: Int32, maxFrameBytes: Int) {
        self.role = role
        self.instance = instance
        self.pid = pid
        self.maxFrameBytes = maxFrameBytes
    }

    enum CodingKeys: String, CodingKey {
        case role, instance, pid
        case maxFrameBytes = "max_frame_bytes"
    }
}

/// Stable reason codes for closing a connection because of what the peer did.
public enum RefusalCode: String, Codable, Sendable, CaseIterable {
    case uidNotAllowed = "UID_NOT_ALLOWED"
    case roleNotAllowed = "ROLE_NOT_ALLOWED"
    case unsupportedVersion = "UNSUPPORTED_PROTOCOL_VERSION"
    case malformedFrame = "MALFORMED_FRAME"
    case oversizedFrame = "OVERSIZED_FRAME"
    case malformedEnvelope = "MALFORMED_ENVELOPE"
    case unknownMessageType = "UNKNOWN_MESSAGE_TYPE"
    case helloExpected = "HELLO_EXPECTED"
    case helloMismatch = "HELLO_MISMATCH"
    case messageTypeNotAllowed = "MESSAGE_TYPE_NOT_ALLOWED"
    case sequenceError = "SEQUENCE_ERROR"
    case helloTimeout = "HELLO_TIMEOUT"
    /// The claimed identity is not one astd is running now (not listed, or not running).
    case identityNotSpawned = "IDENTITY_NOT_SPAWNED"
    /// The claimed identity runs under another pid than the connecting process's (kernel's) pid.
    case pidMismatch = "PID_MISMATCH"
    /// An approval whose signature does not verify under the tree's approval key.
    case approvalSignatureInvalid = "APPROVAL_SIGNATURE_INVALID"
    /// An approval id already handled with other content.
    case approvalReused = "APPROVAL_REUSED"

    /// Whether this refusal means someone tried to pass for another process or forge an
    /// approval: raised as a P0 alert, not only logged.
    public var isSecurityViolation: Bool {
        switch self {
        case .identityNotSpawned, .pidMismatch, .approvalSignatureInvalid, .approvalReused: true
        default: false
        }
    }
}

/// Sent just before a connection is closed for a protocol violation, so the peer can log why.
public struct Refusal: Codable, Sendable, Equatable, CustomStringConvertible {
    public var code: RefusalCode
    public var detail: String

    public init(code: RefusalCode, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}

/// Acknowledges a message of ``Delivery/acknowledged`` delivery by id, once it is journaled.
public struct Ack: Codable, Sendable, Equatable {
    /// The id of the acknowledged message.
    public var id: String
    /// True when the receiver had already seen this id (a re-send).
    public var duplicate: Bool

    public init(id: String, duplicate: Bool) {
        self.id = id
        self.duplicate = duplicate
    }
}

/// Liveness and round-trip check; answered by ``Pong`` with the same nonce.
public struct Ping: Codable, Sendable, Equatable {
    public var nonce: UInt64
    public init(nonce: UInt64) { self.nonce = nonce }
}

/// The answer to a ``Ping``.
public struct Pong: Codable, Sendable, Equatable {
    public var nonce: UInt64
    public init(nonce: UInt64) { self.nonce = nonce }
}

/// An acknowledged diagnostic message: exercises the must-not-lose path end to end
/// (drills, `astctl`, integration tests) without touching trading state.
public struct Probe: Codable, Sendable, Equatable {
    public var counter: Int64
    public var text: String
    public init(counter: Int64, text: String) {
        self.counter = counter
        self.text = text
    }
}

/// Every message the bus carries: the message catalog. The case decides the wire
/// type and its delivery class.
public enum Message: Sendable, Equatable {
    case hello(Hello)
    case welcome(Welcome)
    case refused(Refusal)
    case ack(Ack)
    case ping(Ping)
    case pong(Pong)
    case probe(Probe)
    case statusRequest(StatusRequest)
    case statusReply(TreeStatus)
    /// astd -> risk, notifier: a child spawned, became ready, exited, missed its watchdog ...
    case lifecycle(LifecycleEvent)
    /// strategy -> risk: a bracket to approve or refuse as a whole.
    case intentSubmit(IntentGroup)
    /// risk -> the intent's sender: the decision (a reply).
    case intentDecision(IntentDecision)
    /// risk -> broker: an approved (or downgraded) bracket, carrying its journaled approval id.
    case orderSubmit(Approval)
    /// reconciler -> risk: the portfolio as derived from fills.
    case portfolioSnapshot(PortfolioSnapshot)
    /// marketdata -> risk: the last price of a symbol.
    case mark(MarketMark)
    /// broker -> risk: the broker connection came up or went down.
    case brokerConnection(BrokerConnectionReport)
    /// reconciler -> risk: the outcome of a reconciliation.
    case reconciliationResult(ReconciliationResult)
    /// astctl -> risk: halt, resume or status; answered by ``riskStatus``.
    case riskCommand(RiskCommand)
    case riskStatus(RiskStatusReport)
    /// any process -> notifier: an alert for the operator (P0 now, P1 soon).
    case alert(Alert)
    /// broker -> reconciler: something happened to an order (acknowledged, filled, cancelled ...).
    case executionReport(ExecutionReport)
    /// risk or reconciler -> broker: cancel one order.
    case orderCancel(OrderCancel)
    /// marketdata -> broker (fills), strategy: one bar.
    case bar(Bar)
    /// marketdata -> broker: the session ended; DAY orders expire.
    case sessionClose(SessionClose)
    /// reconciler or astctl -> broker: a request for ``brokerState``.
    case brokerQuery(BrokerQuery)
    /// broker -> the asker: the broker's own account of the truth (a reply).
    case brokerState(BrokerAccountState)
    /// astctl -> a simulated broker: a broker-side event for drills and tests.
    case brokerInject(BrokerInjection)
    /// The answer to a command such as ``brokerInject`` (a reply).
    case commandResult(OperatorReply)
    /// astctl -> reconciler: reconcile now, or report the last run.
    case reconcileRequest(ReconcileRequest)
    /// reconciler -> astctl: one reconciliation run (a reply).
    case reconciliationReport(ReconciliationSummary)
    /// marketdata -> trading processes, in replay: the market time.
    case marketTime(MarketTime)
    /// astctl -> notifier: the outbox's backlog; answered by ``notifierStatus``.
    case notifierStatusRequest(NotifierStatusRequest)
    case notifierStatus(NotifierStatusReport)
    /// astctl -> any worker: its outgoing bus links; answered by ``busStatus``.
    case busStatusRequest(BusStatusRequest)
    case busStatus(BusStatusReport)
    /// astctl -> a worker: the operator acknowledges a quarantined journal entry (answered by
    /// ``commandResult``).
    case quarantineAck(QuarantineAck)
    /// marketdata -> strategy, risk, broker, reconciler, in replay: the causal clock's settle
    /// barrier; answered by ``settled`` once the process's own consequences are done.
    case marketSettle(MarketSettle)
    case settled(SettleReport)
    /// strategy -> reconciler: which of the day's entries are still unfilled; answered by ``openEntries``.
    case openEntriesQuery(OpenEntriesQuery)
    case openEntries(OpenEntriesReport)

    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .refused: .refused
        case .ack: .ack
        case .ping: .ping
        case .pong: .pong
        case .probe: .probe
        case .statusRequest: .statusRequest
        case .statusReply: .statusReply
        case .lifecycle: .lifecycle
        case .intentSubmit: .intentSubmit
        case .intentDecision: .intentDecision
        case .orderSubmit: .orderSubmit
        case .portfolioSnapshot: .portfolioSnapshot
        case .mark: .mark
        case .brokerConnection: .brokerConnection
        case .reconciliationResult: .reconciliationResult
        case .riskCommand: .riskCommand
        case .riskStatus: .riskStatus
        case .alert: .alert
        case .executionReport: .executionReport
        case .orderCancel: .orderCancel
        case .bar: .bar
        case .sessionClose: .sessionClose
        case .brokerQuery: .brokerQuery
        case .brokerState: .brokerState
        case .brokerInject: .brokerInject
        case .commandResult: .commandResult
        case .reconcileRequest: .reconcileRequest
        case .reconciliationReport: .reconciliationReport
        case .marketTime: .marketTime
        case .notifierStatusRequest: .notifierStatusRequest
        case .notifierStatus: .notifierStatus
        case .busStatusRequest: .busStatusRequest
        case .busStatus: .busStatus
        case .quarantineAck: .quarantineAck
        case .marketSettle: .marketSettle
        case .settled: .settled
        case .openEntriesQuery: .openEntriesQuery
        case .openEntries: .openEntries
        }
    }

    public var delivery: Delivery { MessageCatalog.delivery(of: type) ?? .bestEffort }
}

/// Lookup of message types: which exist, how each is delivered, and how its body decodes.
public enum MessageCatalog {
    /// The protocol version this build speaks (``Hello/protocolVersion``, the envelope's `v`).
    public static let protocolVersion = 1

    /// Every type this protocol version knows, with its delivery class.
    public static let types: [MessageType: Delivery] = [
        .hello: .bestEffort, .welcome: .bestEffort, .refused: .bestEffort, .ack: .bestEffort,
        .ping: .bestEffort, .pong: .bestEffort, .probe: .acknowledged,
        .statusRequest: .bestEffort, .statusReply: .bestEffort, .lifecycle: .acknowledged,
        .intentSubmit: .acknowledged, .intentDecision: .bestEffort, .orderSubmit: .acknowledged,
        .portfolioSnapshot: .acknowledged, .mark: .acknowledged, .brokerConnection: .acknowledged,
        .reconciliationResult: .acknowledged, .riskCommand: .bestEffort, .riskStatus: .bestEffort, .alert: .acknowledged,
        .executionReport: .acknowledged, .orderCancel: .acknowledged, .bar: .acknowledged, .sessionClose: .acknowledged,
        .brokerQuery: .bestEffort, .brokerState: .bestEffort, .brokerInject: .bestEffort, .commandResult: .bestEffort,
        .reconcileRequest: .bestEffort, .reconciliationReport: .bestEffort, .marketTime: .acknowledged,
        .notifierStatusRequest: .bestEffort, .notifierStatus: .bestEffort, .busStatusRequest: .bestEffort, .busStatus: .bestEffort,
        .quarantineAck: .bestEffort,
        .marketSettle: .bestEffort, .settled: .bestEffort, .openEntriesQuery: .bestEffort, .openEntries: .bestEffort,
    ]

    /// Types that only the connection protocol itself sends; an endpoint policy never lists them.
    public static let control: Set<MessageType> = [.hello, .welcome, .refused, .ack]

    public static func delivery(of type: MessageType) -> Delivery? { types[type] }

    /// Decodes the body of a message of `type` stored under `key`; nil for a type this catalog does not know.
    public static func decodeBody<Key: CodingKey>(_ type: MessageType, from container: KeyedDecodingContainer<Key>, key: Key) throws
        -> Message?
    {
        switch type {
        case .hello: return .hello(try container.decode(Hello.self, forKey: key))
        case .welcome: return .welcome(try container.decode(Welcome.self, forKey: key))
        case .refused: return .refused(try container.decode(Refusal.self, forKey: key))
        case .ack: return .ack(try container.decode(Ack.self, forKey: key))
        case .ping: return .ping(try container.decode(Ping.self, forKey: key))
        case .pong: return .pong(try container.decode(Pong.self, forKey: key))
        case .probe: return .probe(try container.decode(Probe.self, forKey: key))
        case .statusRequest: return .statusRequest(try container.decode(StatusRequest.self, forKey: key))
        case .statusReply: return .statusReply(try container.decode(TreeStatus.self, forKey: key))
        case .lifecycle: return .lifecycle(try container.decode(LifecycleEvent.self, forKey: key))
        case .intentSubmit: return .intentSubmit(try container.decode(IntentGroup.self, forKey: key))
        case .intentDecision: return .intentDecision(try container.decode(IntentDecision.self, forKey: key))
        case .orderSubmit: return .orderSubmit(try container.decode(Approval.self, forKey: key))
        case .portfolioSnapshot: return .portfolioSnapshot(try container.decode(PortfolioSnapshot.self, forKey: key))
        case .mark: return .mark(try container.decode(MarketMark.self, forKey: key))
        case .brokerConnection: return .brokerConnection(try container.decode(BrokerConnectionReport.self, forKey: key))
        case .reconciliationResult: return .reconciliationResult(try container.decode(ReconciliationResult.self, forKey: key))
        case .riskCommand: return .riskCommand(try container.decode(RiskCommand.self, forKey: key))
        case .riskStatus: return .riskStatus(try container.decode(RiskStatusReport.self, forKey: key))
        case .alert: return .alert(try container.decode(Alert.self, forKey: key))
        case .executionReport: return .executionReport(try container.decode(ExecutionReport.self, forKey: key))
        case .orderCancel: return .orderCancel(try container.decode(OrderCancel.self, forKey: key))
        case .bar: return .bar(try container.decode(Bar.self, forKey: key))
        case .sessionClose: return .sessionClose(try container.decode(SessionClose.self, forKey: key))
        case .brokerQuery: return .brokerQuery(try container.decode(BrokerQuery.self, forKey: key))
        case .brokerState: return .brokerState(try container.decode(BrokerAccountState.self, forKey: key))
        case .brokerInject: return .brokerInject(try container.decode(BrokerInjection.self, forKey: key))
        case .commandResult: return .commandResult(try container.decode(OperatorReply.self, forKey: key))
        case .reconcileRequest: return .reconcileRequest(try container.decode(ReconcileRequest.self, forKey: key))
        case .reconciliationReport: return .reconciliationReport(try container.decode(ReconciliationSummary.self, forKey: key))
        case .marketTime: return .marketTime(try container.decode(MarketTime.self, forKey: key))
        case .notifierStatusRequest: return .notifierStatusRequest(try container.decode(NotifierStatusRequest.self, forKey: key))
        case .notifierStatus: return .notifierStatus(try container.decode(NotifierStatusReport.self, forKey: key))
        case .busStatusRequest: return .busStatusRequest(try container.decode(BusStatusRequest.self, forKey: key))
        case .busStatus: return .busStatus(try container.decode(BusStatusReport.self, forKey: key))
        case .quarantineAck: return .quarantineAck(try container.decode(QuarantineAck.self, forKey: key))
        case .marketSettle: return .marketSettle(try container.decode(MarketSettle.self, forKey: key))
        case .settled: return .settled(try container.decode(SettleReport.self, forKey: key))
        case .openEntriesQuery: return .openEntriesQuery(try container.decode(OpenEntriesQuery.self, forKey: key))
        case .openEntries: return .openEntries(try container.decode(OpenEntriesReport.self, forKey: key))
        default: return nil
        }
    }

    /// Encodes the body of `message` under `key`.
    public static func encodeBody<Key: CodingKey>(_ message: Message, into container: inout KeyedEncodingContainer<Key>, key: Key) throws {
        switch message {
        case .hello(let b): try container.encode(b, forKey: key)
        case .welcome(let b): try container.encode(b, forKey: key)
        case .refused(let b): try container.encode(b, forKey: key)
        case .ack(let b): try container.encode(b, forKey: key)
        case .ping(let b): try container.encode(b, forKey: key)
        case .pong(let b): try container.encode(b, forKey: key)
        case .probe(let b): try container.encode(b, forKey: key)
        case .statusRequest(let b): try container.encode(b, forKey: key)
        case .statusReply(let b): try container.encode(b, forKey: key)
        case .lifecycle(let b): try container.encode(b, forKey: key)
        case .intentSubmit(let b): try container.encode(b, forKey: key)
        case .intentDecision(let b): try container.encode(b, forKey: key)
        case .orderSubmit(let b): try container.encode(b, forKey: key)
        case .portfolioSnapshot(let b): try container.encode(b, forKey: key)
        case .mark(let b): try container.encode(b, forKey: key)
        case .brokerConnection(let b): try container.encode(b, forKey: key)
        case .reconciliationResult(let b): try container.encode(b, forKey: key)
        case .riskCommand(let b): try container.encode(b, forKey: key)
        case .riskStatus(let b): try container.encode(b, forKey: key)
        case .alert(let b): try container.encode(b, forKey: key)
        case .executionReport(let b): try container.encode(b, forKey: key)
        case .orderCancel(let b): try container.encode(b, forKey: key)
        case .bar(let b): try container.encode(b, forKey: key)
        case .sessionClose(let b): try container.encode(b, forKey: key)
        case .brokerQuery(let b): try container.encode(b, forKey: key)
        case .brokerState(let b): try container.encode(b, forKey: key)
        case .brokerInject(let b): try container.encode(b, forKey: key)
        case .commandResult(let b): try container.encode(b, forKey: key)
        case .reconcileRequest(let b): try container.encode(b, forKey: key)
        case .reconciliationReport(let b): try container.encode(b, forKey: key)
        case .marketTime(let b): try container.encode(b, forKey: key)
        case .notifierStatusRequest(let b): try container.encode(b, forKey: key)
        case .notifierStatus(let b): try container.encode(b, forKey: key)
        case .busStatusRequest(let b): try container.encode(b, forKey: key)
        case .busStatus(let b): try container.encode(b, forKey: key)
        case .quarantineAck(let b): try container.encode(b, forKey: key)
        case .marketSettle(let b): try container.encode(b, forKey: key)
        case .settled(let b): try container.encode(b, forKey: key)
        case .openEntriesQuery(let b): try container.encode(b, forKey: key)
        case .openEntries(let b): try container.encode(b, forKey: key)
        }
    }
}
