import ASTCore

/// IB's request pacing: never more than `limit` messages in any `window`. A token bucket whose
/// tokens are the send times of the last `limit` messages: each token comes back exactly one window
/// after it was spent, so no window ever holds more than `limit` sends. IB counts 50 messages per
/// second where they arrive, and arrival squeezes the gaps between sends (a message delayed more
/// than the next one): the default window is 1.1 s, so that 100 ms of such jitter still leaves
/// every second at IB with at most 50.
public struct TWSPacer: Hashable, Sendable {
    public let limit: Int
    public let window: Duration
    private var sent: [Timestamp] = []
    private var oldest = 0

    public init(limit: Int = 50, window: Duration = .milliseconds(1100)) {
        self.limit = max(limit, 1)
        self.window = window
    }

    /// When the next message may go: `now` if a token is free.
    public func nextSlot(_ now: Timestamp) -> Timestamp {
        guard sent.count == limit else { return now }
        let free = sent[oldest].advanced(by: window)
        return free > now ? free : now
    }

    /// Spends a token if one is free at `now`.
    public mutating func take(_ now: Timestamp) -> Bool {
        guard nextSlot(now) <= now else { return false }
        if sent.count < limit {
            sent.append(now)
        } else {
            sent[oldest] = now
            oldest = (oldest + 1) % limit
        }
        return true
    }
}

/// Capped exponential back-off between connection attempts (deterministic: no jitter, so replay
/// and tests see the same schedule).
public struct TWSBackoff: Hashable, Sendable {
    public let initial: Duration
    public let maximum: Duration
    public private(set) var failures = 0

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60)) {
        self.initial = initial
        self.maximum = max(maximum, initial)
    }

    /// The delay before the next attempt, counting this failure.
    public mutating func nextDelay() -> Duration {
        let shift = min(failures, 20)
        failures += 1
        let delay = initial * (1 << shift)
        return delay > maximum ? maximum : delay
    }

    public mutating func reset() { failures = 0 }
}

/// A daily window in which TWS or IB Gateway restarts on purpose (IB Gateway's nightly restart):
/// a disconnect inside it is planned. Seconds of the day in UTC; the shell converts the configured
/// New York time for the day (the window moves with daylight saving).
public struct TWSMaintenanceWindow: Hashable, Sendable {
    public var startSecondOfDay: Int64
    public var duration: Duration

    public init(startSecondOfDay: Int64, duration: Duration) {
        self.startSecondOfDay = min(max(startSecondOfDay, 0), 86_399)
        self.duration = min(max(duration, .zero), .seconds(86_400))
    }

    /// The end of the window `t` falls in, or `nil` when `t` is outside every window.
    public func end(containing t: Timestamp) -> Timestamp? {
        let day: Int64 = 86_400_000_000_000
        let ns = t.nanoseconds
        let midnight = ns >= 0 ? ns / day * day : (ns - day + 1) / day * day
        for start in [midnight - day, midnight].map({ $0 + startSecondOfDay * 1_000_000_000 }) {
            let s = Timestamp(nanoseconds: start)
            let e = s.advanced(by: duration)
            if t >= s, t < e { return e }
        }
        return nil
    }
}

/// Settings of one API connection (host and port belong to the shell).
public struct TWSConnectionSettings: Hashable, Sendable {
    public var clientId: Int32
    public var optionalCapabilities: String
    public var connectTimeout: Duration
    public var handshakeTimeout: Duration
    /// How long the API may take to send nextValidId and managedAccounts after startApi.
    public var startTimeout: Duration
    /// A session that lasted this long resets the back-off.
    public var stableAfter: Duration
    public var backoff: TWSBackoff
    public var maxQueuedMessages: Int
    public var maxFrameLength: Int
    /// The nightly restart, if any: a disconnect inside it waits for its end, without back-off.
    public var maintenanceWindow: TWSMaintenanceWindow?
    /// The pacer every message after the handshake goes through (50 in any 1.1 s by default).
    public var pacer: TWSPacer

    public init(
        clientId: Int32, optionalCapabilities: String = "", connectTimeout: Duration = .seconds(10),
        handshakeTimeout: Duration = .seconds(10),
        startTimeout: Duration = .seconds(10), stableAfter: Duration = .seconds(60), backoff: TWSBackoff = TWSBackoff(),
        maxQueuedMessages: Int = 1024, maxFrameLength: Int = TWSWire.maxPayloadLength, maintenanceWindow: TWSMaintenanceWindow? = nil,
        pacer: TWSPacer = TWSPacer()
    ) {
        self.clientId = clientId
        self.optionalCapabilities = optionalCapabilities
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
        self.startTimeout = startTimeout
        self.stableAfter = stableAfter
        self.backoff = backoff
        self.maxQueuedMessages = maxQueuedMessages
        self.maxFrameLength = maxFrameLength
        self.maintenanceWindow = maintenanceWindow
        self.pacer = pacer
    }
}

/// An API session once TWS has sent nextValidId and managedAccounts.
public struct TWSSession: Hashable, Sendable {
    public let serverVersion: TWSServerVersion
    public let connectionTime: String
    public let accounts: [String]
    public let nextValidId: Int32
}

/// Why a connection ended.
public enum TWSDisconnectReason: Hashable, Sendable, CustomStringConvertible {
    case connectFailed(String)
    case closedByPeer
    case timedOut(TWSConnection.Phase)
    case protocolError(TWSDecodeError)
    /// The server's version is below AST's minimum: upgrade TWS or IB Gateway.
    case serverTooOld(Int)
    /// The server answered with a version above what AST asked for: not TWS, or a broken one.
    case serverVersionUnexpected(Int)
    case clientIdInUse
    case stopped

    /// A restarting gateway closes the socket, refuses connections or stays silent: those are
    /// planned inside the maintenance window. A protocol error or a refusal never is.
    var mayBePlanned: Bool {
        switch self {
        case .connectFailed, .closedByPeer, .timedOut: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .connectFailed(let why): "could not connect to TWS: \(why)"
        case .closedByPeer: "TWS closed the connection"
        case .timedOut(let phase): "TWS did not answer in time while \(phase)"
        case .protocolError(let e): "protocol error: \(e)"
        case .serverTooOld(let v):
            "TWS/IB Gateway server version \(v) is older than \(TWSServerVersion.minimum), the minimum AST supports: "
                + "upgrade TWS or IB Gateway"
        case .serverVersionUnexpected(let v):
            "TWS answered server version \(v), outside the range \(TWSServerVersion.supported) AST asked for"
        case .clientIdInUse: "the API client id is in use by another connection (326): set a different ibkr client id"
        case .stopped: "stopped"
        }
    }
}

/// What the connection reports to its owner.
public enum TWSConnectionEvent: Hashable, Sendable {
    case started(TWSSession)
    case disconnected(TWSDisconnectReason, reconnectAt: Timestamp?)
    /// The disconnect before it fell inside the maintenance window: planned (the nightly restart),
    /// not a failure. Orders are still unwatched until the API is back: the owner stays halted.
    case plannedDisconnect(until: Timestamp)
    /// An error message from TWS and what it means.
    case error(TWSErrorMessage, TWSErrorOutcome)
    /// A request that was not sent, and why.
    case refused(TWSRequest, String)
}

/// The API connection as a pure state machine: idle → connecting → handshaking → starting →
/// started, and disconnected (with a reconnect time) from any of them. Time is an input; the
/// shell opens and closes the socket, writes bytes, and calls ``tick(now:)`` at the times the
/// machine asks for.
public struct TWSConnection: Sendable {
    /// Where the connection stands.
    public enum Phase: Hashable, Sendable, CustomStringConvertible {
        case idle, connecting, handshaking, starting, started, waitingToReconnect, stopped
        public var description: String {
            switch self {
            case .idle: "idle"
            case .connecting: "connecting"
            case .handshaking: "handshaking"
            case .starting: "starting the API"
            case .started: "started"
            case .waitingToReconnect: "waiting to reconnect"
            case .stopped: "stopped"
            }
        }
    }

    /// What the shell must do.
    public enum Action: Hashable, Sendable {
        case openSocket
        case write([UInt8])
        case closeSocket
        /// Call ``tick(now:)`` at this time (earlier calls are harmless).
        case wake(at: Timestamp)
        case deliver(TWSMessage)
        case event(TWSConnectionEvent)
    }

    public let settings: TWSConnectionSettings
    public private(set) var phase: Phase = .idle
    public private(set) var session: TWSSession?
    /// False from a 1100 until a 1101/1102: TWS is up but cut off from IB.
    public private(set) var ibReachable = true
    private var deadline: Timestamp?
    private var decoder: TWSFrameDecoder
    private var serverVersion: TWSServerVersion?
    private var connectionTime = ""
    private var nextValidId: Int32?
    private var accounts: [String]?
    private var startedAt: Timestamp?
    private var backoff: TWSBackoff
    private var pacer: TWSPacer
    private var queue: [[UInt8]] = []

    public init(settings: TWSConnectionSettings) {
        self.settings = settings
        self.backoff = settings.backoff
        self.pacer = settings.pacer
        self.decoder = TWSFrameDecoder(maxPayloadLength: settings.maxFrameLength)
    }

    /// Begins connecting (also after ``stop(now:)``).
    public mutating func start(now: Timestamp) -> [Action] {
        guard phase == .idle || phase == .stopped || phase == .waitingToReconnect else { return [] }
        phase = .connecting
        let d = now.advanced(by: settings.connectTimeout)
        deadline = d
        return [.openSocket, .wake(at: d)]
    }

    /// The socket is open: send the handshake.
    public mutating func socketOpened(now: Timestamp) -> [Action] {
        guard phase == .connecting else { return [] }
        phase = .handshaking
        decoder = TWSFrameDecoder(maxPayloadLength: settings.maxFrameLength)
        let d = now.advanced(by: settings.handshakeTimeout)
        deadline = d
        return [.write(TWSHandshake.hello()), .wake(at: d)]
    }

    public mutating func socketFailed(now: Timestamp, reason: String) -> [Action] {
        guard phase == .connecting else { return [] }
        return disconnect(.connectFailed(reason), now: now, close: false)
    }

    /// The peer closed the socket.
    public mutating func socketClosed(now: Timestamp) -> [Action] {
        switch phase {
        case .connecting, .handshaking, .starting, .started: return disconnect(.closedByPeer, now: now, close: false)
        default: return []
        }
    }

    /// Bytes from the socket.
    public mutating func received(_ bytes: [UInt8], now: Timestamp) -> [Action] {
        guard phase == .handshaking || phase == .starting || phase == .started else { return [] }
        decoder.append(bytes)
        var actions: [Action] = []
        while phase == .handshaking || phase == .starting || phase == .started {
            let payload: [UInt8]
            do {
                guard let p = try decoder.next() else { break }
                payload = p
            } catch {
                return actions + disconnect(.protocolError(error), now: now)
            }
            actions += handle(payload, now: now)
        }
        return actions
    }

    /// Sends a request once started, paced; refused otherwise.
    public mutating func send(_ request: TWSRequest, now: Timestamp) -> [Action] {
        guard phase == .started, let version = serverVersion else {
            return [.event(.refused(request, "the API connection is \(phase), not started"))]
        }
        guard queue.count < settings.maxQueuedMessages else {
            return [.event(.refused(request, "\(queue.count) messages already wait for pacing"))]
        }
        let payload: [UInt8]
        do { payload = try request.encode(at: version) } catch { return [.event(.refused(request, error.description))] }
        queue.append(TWSWire.frame(payload))
        return drain(now: now)
    }

    /// Timeouts, paced sends and reconnection.
    public mutating func tick(now: Timestamp) -> [Action] {
        if let d = deadline, now >= d {
            switch phase {
            case .connecting, .handshaking, .starting: return disconnect(.timedOut(phase), now: now)
            case .waitingToReconnect:
                deadline = nil
                return start(now: now)
            default: break
            }
        }
        return phase == .started ? drain(now: now) : []
    }

    /// Closes the connection for good (until ``start(now:)``).
    public mutating func stop(now: Timestamp) -> [Action] {
        let wasOpen = [.connecting, .handshaking, .starting, .started].contains(phase)
        reset()
        phase = .stopped
        return wasOpen ? [.closeSocket, .event(.disconnected(.stopped, reconnectAt: nil))] : []
    }

    // MARK: - Internals

    private mutating func handle(_ payload: [UInt8], now: Timestamp) -> [Action] {
        if phase == .handshaking {
            let reply: TWSHandshake.Reply
            do { reply = try TWSHandshake.decodeReply(payload) } catch { return disconnect(.protocolError(error), now: now) }
            guard reply.serverVersion >= TWSServerVersion.minimum else {
                return disconnect(.serverTooOld(reply.serverVersion), now: now, retryAfter: backoff.maximum)
            }
            guard let version = TWSServerVersion(reply.serverVersion) else {
                return disconnect(.serverVersionUnexpected(reply.serverVersion), now: now, retryAfter: backoff.maximum)
            }
            serverVersion = version
            connectionTime = reply.connectionTime
            phase = .starting
            let d = now.advanced(by: settings.startTimeout)
            deadline = d
            let start = TWSRequest.startApi(clientId: settings.clientId, optionalCapabilities: settings.optionalCapabilities)
            guard let bytes = try? start.encode(at: version) else {
                return disconnect(.protocolError(.badHandshake("startApi could not be encoded")), now: now)
            }
            _ = pacer.take(now)
            return [.write(TWSWire.frame(bytes)), .wake(at: d)]
        }
        guard let version = serverVersion else { return [] }
        let message: TWSMessage
        do { message = try TWSMessage.decode(payload, at: version) } catch {
            return disconnect(.protocolError(error), now: now)
        }
        var actions: [Action] = [.deliver(message)]
        switch message {
        case .nextValidId(let id) where phase == .starting: nextValidId = id
        case .managedAccounts(let list) where phase == .starting: accounts = list
        case .error(let e):
            let outcome = TWSErrorOutcome(e)
            actions.append(.event(.error(e, outcome)))
            switch outcome {
            case .connectivityLost: ibReachable = false
            case .connectivityRestored: ibReachable = true
            case .clientIdInUse: return actions + disconnect(.clientIdInUse, now: now, retryAfter: backoff.maximum)
            default: break
            }
        default: break
        }
        if phase == .starting, let id = nextValidId, let list = accounts {
            let s = TWSSession(serverVersion: version, connectionTime: connectionTime, accounts: list, nextValidId: id)
            session = s
            phase = .started
            startedAt = now
            deadline = nil
            actions.append(.event(.started(s)))
        }
        return actions
    }

    private mutating func drain(now: Timestamp) -> [Action] {
        var actions: [Action] = []
        while !queue.isEmpty, pacer.take(now) { actions.append(.write(queue.removeFirst())) }
        if !queue.isEmpty { actions.append(.wake(at: pacer.nextSlot(now))) }
        return actions
    }

    private mutating func reset() {
        session = nil
        serverVersion = nil
        nextValidId = nil
        accounts = nil
        queue = []
        deadline = nil
        ibReachable = true
    }

    private mutating func disconnect(_ reason: TWSDisconnectReason, now: Timestamp, close: Bool = true, retryAfter: Duration? = nil)
        -> [Action]
    {
        if let t = startedAt, now.duration(since: t) >= settings.stableAfter { backoff.reset() }
        startedAt = nil
        reset()
        var actions: [Action] = close ? [.closeSocket] : []
        let at: Timestamp
        if let end = settings.maintenanceWindow?.end(containing: now), reason.mayBePlanned {
            at = end
            actions.append(.event(.plannedDisconnect(until: end)))
        } else {
            var delay = backoff.nextDelay()
            if let floor = retryAfter, floor > delay { delay = floor }
            at = now.advanced(by: delay)
        }
        phase = .waitingToReconnect
        deadline = at
        actions += [.event(.disconnected(reason, reconnectAt: at)), .wake(at: at)]
        return actions
    }
}
