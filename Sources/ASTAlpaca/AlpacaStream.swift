import ASTCore

/// The `event` of a trade update. Every event Alpaca documents, plus `accepted`, `restated` and
/// `held` that its SDK knows; anything else is ``other(_:)`` (the order in it still counts).
public enum AlpacaTradeEvent: Sendable, Hashable {
    case new, fill, partialFill, canceled, expired, doneForDay, replaced
    case rejected, pendingNew, stopped, pendingCancel, pendingReplace, calculated, suspended
    case orderReplaceRejected, orderCancelRejected, accepted, restated, held
    case other(String)

    static let names: [(String, AlpacaTradeEvent)] = [
        ("new", .new), ("fill", .fill), ("partial_fill", .partialFill), ("canceled", .canceled), ("expired", .expired),
        ("done_for_day", .doneForDay), ("replaced", .replaced), ("rejected", .rejected), ("pending_new", .pendingNew),
        ("stopped", .stopped), ("pending_cancel", .pendingCancel), ("pending_replace", .pendingReplace),
        ("calculated", .calculated), ("suspended", .suspended), ("order_replace_rejected", .orderReplaceRejected),
        ("order_cancel_rejected", .orderCancelRejected), ("accepted", .accepted), ("restated", .restated), ("held", .held),
    ]

    public init(_ text: String) {
        self = Self.names.first { $0.0 == text }?.1 ?? .other(String(text.prefix(40)))
    }

    public var name: String {
        if case .other(let s) = self { return s }
        return Self.names.first { $0.1 == self }?.0 ?? "?"
    }

    /// A fill event: carries `price`, `qty` and `position_qty`.
    public var isFill: Bool { self == .fill || self == .partialFill }
}

/// One `trade_updates` message's `data`.
public struct AlpacaTradeUpdate: Sendable, Equatable {
    public var event: AlpacaTradeEvent
    /// The order as it stands after the event (its `filled_qty` is the running total: AST derives
    /// executed shares from it, not from `qty`, whose meaning on partial fills is undocumented).
    public var order: AlpacaOrder
    public var timestamp: Timestamp?
    public var price: Price?
    public var quantity: Quantity?
    public var positionQuantity: AlpacaDecimal?
    public var executionID: String?

    public static func decode(_ data: AlpacaJSON) throws(AlpacaDecodeError) -> AlpacaTradeUpdate {
        let f = try AlpacaFields(data, "trade_update")
        let event = AlpacaTradeEvent(try f.string("event"))
        guard let orderJSON = data["order"] else { throw AlpacaDecodeError("trade_update.order is missing") }
        let order = try AlpacaOrder.decode(orderJSON)
        var price: Price? = nil
        var quantity: Quantity? = nil
        if event.isFill {
            guard let p = try f.optionalDecimal("price")?.roundedPrice, p.isPositive else {
                throw AlpacaDecodeError("trade_update.price of a fill is missing or not a price")
            }
            price = p
            if let q = try f.optionalDecimal("qty") {
                guard let shares = q.wholeShares, shares.shares > 0 else { throw AlpacaDecodeError("trade_update.qty is not whole shares") }
                quantity = shares
            }
            guard order.filledQuantity.shares > 0 else { throw AlpacaDecodeError("a fill whose order has filled_qty 0") }
        }
        var execution: String? = nil
        if let e = try f.optionalString("execution_id") {
            guard (1...64).contains(e.utf8.count), AlpacaRequests.isOrderID(e) else {
                throw AlpacaDecodeError("trade_update.execution_id is not an id")
            }
            execution = e
        }
        return AlpacaTradeUpdate(
            event: event, order: order, timestamp: try f.time("timestamp"), price: price, quantity: quantity,
            positionQuantity: try f.optionalDecimal("position_qty"), executionID: execution)
    }
}

/// Settings of the stream's state machine.
public struct AlpacaStreamSettings: Sendable, Equatable {
    /// The most bytes one message may have (a trade update is a few KiB).
    public var maxMessageBytes: Int
    /// How long the server may take to answer `authenticate` and `listen`.
    public var handshakeTimeout: Duration
    /// Reconnect back-off: first delay and cap (deterministic doubling, no jitter).
    public var initialBackoff: Duration
    public var maximumBackoff: Duration
    /// Keep-alive: a listening stream silent this long is pinged ...
    public var pingAfter: Duration
    /// ... and is dead (a half-open connection) when no frame at all comes this long after the ping.
    public var deadAfter: Duration

    public init(
        maxMessageBytes: Int = 1 << 20, handshakeTimeout: Duration = .seconds(10), initialBackoff: Duration = .seconds(1),
        maximumBackoff: Duration = .seconds(30), pingAfter: Duration = .seconds(15), deadAfter: Duration = .seconds(10)
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.handshakeTimeout = handshakeTimeout
        self.initialBackoff = initialBackoff
        self.maximumBackoff = max(maximumBackoff, initialBackoff)
        self.pingAfter = pingAfter
        self.deadAfter = deadAfter
    }
}

/// The stream's state, as the broker process reports it (README: what each does to Safe Mode).
public enum AlpacaStreamState: Sendable, Equatable {
    /// Not started.
    case idle
    /// Opening the WebSocket.
    case connecting
    /// `authenticate` sent, waiting for `authorization`.
    case authenticating
    /// `listen` sent, waiting for `listening` with `trade_updates`.
    case subscribing
    /// Trade updates flow. Only here is the stream "up".
    case listening
    /// Down (closed, refused, timed out, or a message that could not be read): events may have
    /// been missed. Retried at `retryAt`.
    case disconnected(reason: String, retryAt: Timestamp)

    public var isUp: Bool { self == .listening }
}

/// What the shell must do for the stream.
public enum AlpacaStreamAction: Sendable, Equatable {
    /// Open the WebSocket to `<base>/stream`.
    case openSocket
    /// Send the `authenticate` message (``AlpacaStreamMessages/authenticate(keyID:secretKey:)``:
    /// the shell fills in the credentials, so they never pass through the core).
    case sendAuthenticate
    /// Send this text frame.
    case send(String)
    /// Send a WebSocket ping (keep-alive: the answering pong, or any frame, proves the stream alive).
    case sendPing
    /// Close the socket.
    case closeSocket
    /// The stream is listening: close the gap (list orders and activities since the last event
    /// journaled, reconcile) before leaving HALTED.
    case streamUp
    /// The stream went down: events may be lost from now on: HALTED until it is up and reconciled.
    case streamDown(reason: String)
    /// A trade update to journal and apply.
    case deliver(AlpacaTradeUpdate)
    /// A message that was not understood, ignored (bounded detail, for the log).
    case ignored(String)
}

/// The `authenticate` and `listen` messages.
public enum AlpacaStreamMessages {
    /// `{"action":"authenticate","data":{"key_id":…,"secret_key":…}}`. Never log it.
    public static func authenticate(keyID: String, secretKey: String) -> String {
        AlpacaJSONWriter.object([
            ("action", #""authenticate""#),
            (
                "data",
                AlpacaJSONWriter.object([("key_id", AlpacaJSONWriter.quote(keyID)), ("secret_key", AlpacaJSONWriter.quote(secretKey))])
            ),
        ])
    }

    /// `{"action":"listen","data":{"streams":["trade_updates"]}}`.
    public static let listen = #"{"action":"listen","data":{"streams":["trade_updates"]}}"#
}

/// The `trade_updates` WebSocket's client state machine: connect, authenticate, listen, deliver
/// every update; any close, refusal, timeout or unreadable update takes it down (events may be
/// lost: there is no replay) and schedules a reconnect with capped back-off. Pure: the shell
/// feeds it socket events and time and carries out its actions.
public struct AlpacaStream: Sendable {
    public let settings: AlpacaStreamSettings
    public private(set) var state: AlpacaStreamState = .idle
    private var deadline: Timestamp?
    private var failures = 0
    /// When the last frame (message, ping or pong) came, and when the outstanding ping went.
    private var lastHeard: Timestamp?
    private var pingSent: Timestamp?
    /// Updates delivered since the last connect (for status lines).
    public private(set) var delivered: Int64 = 0

    public init(settings: AlpacaStreamSettings = AlpacaStreamSettings()) { self.settings = settings }

    /// Starts connecting.
    public mutating func start(now: Timestamp) -> [AlpacaStreamAction] {
        guard state == .idle else { return [] }
        return connect(now)
    }

    mutating func connect(_ now: Timestamp) -> [AlpacaStreamAction] {
        state = .connecting
        deadline = now.advanced(by: settings.handshakeTimeout)
        return [.openSocket]
    }

    /// The WebSocket handshake succeeded.
    public mutating func socketOpened(now: Timestamp) -> [AlpacaStreamAction] {
        guard state == .connecting else { return [] }
        state = .authenticating
        deadline = now.advanced(by: settings.handshakeTimeout)
        return [.sendAuthenticate]
    }

    /// The socket closed or could not be opened.
    public mutating func socketClosed(reason: String, now: Timestamp) -> [AlpacaStreamAction] {
        switch state {
        case .idle, .disconnected: return []
        default: return down("socket closed: \(String(reason.prefix(120)))", now: now, close: false)
        }
    }

    /// Time passes: a handshake that takes too long fails; a reconnect comes due.
    public mutating func tick(now: Timestamp) -> [AlpacaStreamAction] {
        switch state {
        case .connecting, .authenticating, .subscribing:
            if let deadline, now >= deadline { return down("no answer to the handshake in time", now: now, close: true) }
            return []
        case .disconnected(_, let retryAt):
            return now >= retryAt ? connect(now) : []
        case .listening:
            if let sent = pingSent {
                if now >= sent.advanced(by: settings.deadAfter) {
                    return down("no frame for \(settings.deadAfter) after a keep-alive ping (a dead connection)", now: now, close: true)
                }
                return []
            }
            if now >= (lastHeard ?? now).advanced(by: settings.pingAfter) {
                pingSent = now
                return [.sendPing]
            }
            return []
        case .idle:
            return []
        }
    }

    /// A control frame (a pong, or the server's own ping) arrived: the connection is alive.
    public mutating func heard(now: Timestamp) {
        lastHeard = now
        pingSent = nil
    }

    /// One message (text or binary frame: both carry UTF-8 JSON).
    public mutating func received(_ bytes: [UInt8], now: Timestamp) -> [AlpacaStreamAction] {
        switch state {
        case .idle, .connecting, .disconnected: return [.ignored("a message while not connected")]
        default: break
        }
        heard(now: now)
        guard bytes.count <= settings.maxMessageBytes else {
            return down("a message over \(settings.maxMessageBytes) bytes", now: now, close: true)
        }
        let json: AlpacaJSON
        do {
            json = try AlpacaJSONParser.parse(bytes)
        } catch {
            return down("an unreadable message (\(error.description))", now: now, close: true)
        }
        let stream = json["stream"]?.stringValue
        let data = json["data"]
        switch (state, stream) {
        case (.authenticating, "authorization"):
            guard data?["action"]?.stringValue == "authenticate" else { return [.ignored("an authorization for another action")] }
            guard data?["status"]?.stringValue == "authorized" else {
                let message = AlpacaAPIError.clean(data?["message"]?.stringValue ?? "")
                return down("authentication refused\(message.isEmpty ? "" : ": " + message)", now: now, close: true)
            }
            state = .subscribing
            deadline = now.advanced(by: settings.handshakeTimeout)
            return [.send(AlpacaStreamMessages.listen)]
        case (.subscribing, "listening"):
            let streams = data?["streams"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard streams.contains("trade_updates") else {
                return down("trade_updates is not among the streams granted", now: now, close: true)
            }
            state = .listening
            deadline = nil
            heard(now: now)
            failures = 0
            delivered = 0
            return [.streamUp]
        case (.listening, "trade_updates"):
            guard let data else { return down("a trade update without data", now: now, close: true) }
            do {
                let update = try AlpacaTradeUpdate.decode(data)
                delivered += 1
                return [.deliver(update)]
            } catch {
                // An update AST cannot read may be a fill: treat it as a gap, never skip it.
                return down("an unreadable trade update (\(error.reason))", now: now, close: true)
            }
        case (_, "authorization"):
            if data?["status"]?.stringValue == "unauthorized" { return down("unauthorized", now: now, close: true) }
            return [.ignored("an authorization message out of turn")]
        default:
            return [.ignored("a message on stream \(AlpacaRequests.show(stream ?? "(none)")) in state \(state)")]
        }
    }

    mutating func down(_ reason: String, now: Timestamp, close: Bool) -> [AlpacaStreamAction] {
        let wasUp = state.isUp
        let shift = min(failures, 16)
        failures += 1
        var delay = settings.initialBackoff * (1 << shift)
        if delay > settings.maximumBackoff { delay = settings.maximumBackoff }
        state = .disconnected(reason: reason, retryAt: now.advanced(by: delay))
        deadline = nil
        var actions: [AlpacaStreamAction] = close ? [.closeSocket] : []
        // Down is reported on every failure: a stream that never came up is down too.
        actions.append(.streamDown(reason: wasUp ? reason : "not listening: " + reason))
        return actions
    }
}
