import ASTCore
import ASTJournal
import ASTWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why a client call failed.
public enum BusClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case notConnected(String)
    case timedOut(String)
    case notAcknowledgedDelivery(MessageType)

    public var description: String {
        switch self {
        case .notConnected(let t): "not connected to \(t)"
        case .timedOut(let what): "timed out waiting for \(what)"
        case .notAcknowledgedDelivery(let t): "\(t) is not an acknowledged message type"
        }
    }
}

/// The connecting side of the bus towards one endpoint: reconnects with capped exponential
/// back-off and jitter, and delivers must-not-lose messages at least once: each is journaled
/// (durable) before it is first sent, re-sent on every reconnection and after the ack
/// timeout until acknowledged, and restored from the journal after a restart.
public final class BusClient: Sendable {
    public let identity: ProcessIdentity
    /// Where this client connects, as named in logs and journal entries.
    public let target: String
    let path: String
    let expectedRole: Role?
    let settings: BusSettings
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let state: Mutex<State>
    let connections = Atomic<UInt64>(0)

    struct Pending: Sendable {
        var envelope: Envelope
        var lastSent: Timestamp?
    }

    struct Live: Sendable {
        var machine: ClientConnectionMachine
        var writer: AsyncStream<ByteBuffer>.Continuation
    }

    struct State: Sendable {
        var nextCounter: Int64
        var pendingOrder: [String] = []
        var pending: [String: Pending] = [:]
        var live: Live?
        var requests: [String: CheckedContinuation<Envelope, any Error>] = [:]
        var connectedWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// - Parameters:
    ///   - target: the endpoint's name (`broker@paper`); part of every outbox id.
    ///   - expectedRole: the role the endpoint must welcome us as, or nil for any.
    public init(identity: ProcessIdentity, target: String, path: String, expectedRole: Role?, settings: BusSettings,
                journal: Journal, clock: any WallClock, logger: Logger) throws {
        self.identity = identity
        self.target = target
        self.path = path
        self.expectedRole = expectedRole
        self.settings = settings
        self.journal = journal
        self.clock = clock
        self.logger = logger
        let restored = try Self.restoreOutbox(journal, target: target, prefix: Self.idPrefix(identity, target))
        var s = State(nextCounter: restored.maxCounter + 1)
        for env in restored.pending {
            s.pendingOrder.append(env.id)
            s.pending[env.id] = Pending(envelope: env, lastSent: nil)
        }
        state = Mutex(s)
        if !restored.pending.isEmpty {
            logger.notice("restored unacknowledged messages from the journal", metadata: ["target": "\(target)", "count": "\(restored.pending.count)"])
        }
    }

    static func idPrefix(_ identity: ProcessIdentity, _ target: String) -> String { "\(identity)>\(target)#" }

    /// Sent-but-unacknowledged messages to `target`, oldest first, and the highest outbox counter used.
    static func restoreOutbox(_ journal: Journal, target: String, prefix: String) throws -> (pending: [Envelope], maxCounter: Int64) {
        var order: [String] = []
        var sent: [String: Envelope] = [:]
        var maxCounter: Int64 = 0
        try journal.scan(fromSeq: 1) { entry in
            let r = entry.record
            guard r.peer == target, let id = r.messageID, id.hasPrefix(prefix) else { return true }
            switch r.kind {
            case .sent:
                if let n = Int64(id.dropFirst(prefix.count)) { maxCounter = max(maxCounter, n) }
                if let env = try? EnvelopeCodec.decode(r.body), env.message.delivery == .acknowledged {
                    order.append(id)
                    sent[id] = env
                }
            case .acked:
                sent[id] = nil
            default:
                break
            }
            return true
        }
        return (order.compactMap { sent[$0] }, maxCounter)
    }

    /// Messages journaled but not yet acknowledged.
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    public var isConnected: Bool { state.withLock { $0.live?.machine.isEstablished == true } }

    /// Sends a must-not-lose message: journaled durably before this returns, delivered at
    /// least once (the receiver drops duplicates). Returns the message id.
    @discardableResult
    public func send(_ message: Message, correlationID: String? = nil) throws -> String {
        guard message.delivery == .acknowledged else { throw BusClientError.notAcknowledgedDelivery(message.type) }
        let now = clock.now()
        // Ids come from a counter restored from the journal, so they are stable across restarts.
        let (id, envelope) = state.withLock { s in
            let id = Self.idPrefix(identity, target) + String(s.nextCounter)
            s.nextCounter += 1
            return (id, Envelope(sender: identity, seq: 0, id: id, correlationID: correlationID, timestamp: now, message: message))
        }
        try journal.append(BusJournal.message(.sent, envelope, peer: target), durability: .durable)
        state.withLock { s in
            s.pendingOrder.append(id)
            s.pending[id] = Pending(envelope: envelope, lastSent: nil)
            transmit(id, in: &s, now: now)
        }
        return id
    }

    /// Sends a best-effort message and waits for the reply that names it as correlation.
    public func request(_ message: Message, timeout: Duration) async throws -> Envelope {
        let id = "\(identity)>\(target)?\(UniqueID.next())"
        let timeoutTask = Task {
            try await Task.sleep(for: timeout)
            let c = state.withLock { $0.requests.removeValue(forKey: id) }
            c?.resume(throwing: BusClientError.timedOut("a reply from \(target)"))
        }
        defer { timeoutTask.cancel() }
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<Envelope, any Error>) in
            let failed: Bool = state.withLock { s in
                guard var live = s.live, live.machine.isEstablished else { return true }
                let env = live.machine.envelope(message, id: id, correlationID: nil, now: clock.now())
                s.live = live
                s.requests[env.id] = c
                live.writer.yield(ByteBuffer(bytes: EnvelopeCodec.encode(env)))
                return false
            }
            if failed { c.resume(throwing: BusClientError.notConnected(target)) }
        }
    }

    /// Waits until the handshake with the endpoint has completed.
    public func waitUntilConnected() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s in
                if s.live?.machine.isEstablished == true { return true }
                s.connectedWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Writes a pending message on the live connection if there is one. Called with the lock held.
    func transmit(_ id: String, in s: inout State, now: Timestamp) {
        guard var live = s.live, live.machine.isEstablished, var p = s.pending[id] else { return }
        let env = live.machine.envelope(p.envelope.message, id: p.envelope.id, correlationID: p.envelope.correlationID,
                                        now: p.envelope.timestamp)
        live.writer.yield(ByteBuffer(bytes: EnvelopeCodec.encode(env)))
        p.lastSent = now
        s.pending[id] = p
        s.live = live
    }

    /// Connects, and reconnects after every loss, until the task is cancelled.
    public func run(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async {
        var backoff = Backoff(initial: settings.backoffInitial, maximum: settings.backoffMaximum)
        var rng = SystemRandomNumberGenerator()
        await withDiscardingTaskGroup { tasks in
            tasks.addTask { await self.resendLoop() }
            while !Task.isCancelled {
                do {
                    if try await connectOnce(group: group) { backoff.reset() }
                } catch is CancellationError {
                    break
                } catch {
                    logger.debug("bus connection to \(target) failed", metadata: ["error": "\(error)"])
                }
                let delay = backoff.next(using: &rng)
                do { try await Task.sleep(for: delay) } catch { break }
            }
            tasks.cancelAll()
        }
        failRequests(BusClientError.notConnected(target))
    }

    /// Re-sends messages that were not acknowledged within the ack timeout.
    func resendLoop() async {
        let timeout = settings.ackTimeout
        while !Task.isCancelled {
            do { try await Task.sleep(for: timeout / 2) } catch { return }
            let now = clock.now()
            state.withLock { s in
                for id in s.pendingOrder {
                    guard let sent = s.pending[id]?.lastSent, now.duration(since: sent) >= timeout else { continue }
                    transmit(id, in: &s, now: now)
                }
            }
        }
    }

    /// One connection's lifetime; returns whether the handshake completed.
    func connectOnce(group: any EventLoopGroup) async throws -> Bool {
        let number = connections.add(1, ordering: .relaxed).newValue
        let maxFrame = settings.maxFrameBytes
        let channel = try await ClientBootstrap(group: group)
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumPayload: maxFrame)))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder(maximumPayload: maxFrame)))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let (stream, writer) = AsyncStream<ByteBuffer>.makeStream()
        var machine = ClientConnectionMachine(local: identity, connection: number, expectedPeer: expectedRole)
        let hello = machine.hello(pid: getpid(), now: clock.now())
        writer.yield(ByteBuffer(bytes: EnvelopeCodec.encode(hello)))
        state.withLock { $0.live = Live(machine: machine, writer: writer) }
        var established = false
        defer {
            writer.finish()
            state.withLock { $0.live = nil }
            failRequests(BusClientError.notConnected(target))
        }
        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup { tasks in
                tasks.addTask {
                    for await buffer in stream { try await outbound.write(buffer) }
                    outbound.finish()
                }
                defer { tasks.cancelAll() }
                do {
                    for try await frame in inbound {
                        let decoded = Result { () throws(EnvelopeError) in try EnvelopeCodec.decode(frame.readableBytesView) }
                        let actions = state.withLock { s -> [ConnectionAction] in
                            guard var live = s.live else { return [] }
                            let a = live.machine.received(decoded, now: clock.now())
                            s.live = live
                            return a
                        }
                        if try handle(actions, writer: writer, established: &established) { return }
                    }
                } catch let error as FrameError {
                    let actions = state.withLock { s -> [ConnectionAction] in
                        guard var live = s.live else { return [] }
                        let a = live.machine.frameError(error, now: clock.now())
                        s.live = live
                        return a
                    }
                    _ = try handle(actions, writer: writer, established: &established)
                }
            }
        }
        if established {
            logger.info("bus connection to \(target) lost")
        }
        return established
    }

    /// Carries out the machine's actions; returns true when the connection must close.
    func handle(_ actions: [ConnectionAction], writer: AsyncStream<ByteBuffer>.Continuation, established: inout Bool) throws -> Bool {
        for action in actions {
            switch action {
            case .send(let env):
                writer.yield(ByteBuffer(bytes: EnvelopeCodec.encode(env)))
            case .established(let peer):
                established = true
                logger.info("bus connected to \(target)", metadata: ["peer": "\(peer)"])
                let now = clock.now()
                let waiters = state.withLock { s in
                    for id in s.pendingOrder { transmit(id, in: &s, now: now) }
                    defer { s.connectedWaiters = [] }
                    return s.connectedWaiters
                }
                waiters.forEach { $0.resume() }
            case .acknowledged(let ack):
                let known = state.withLock { s in
                    guard s.pending.removeValue(forKey: ack.id) != nil else { return false }
                    s.pendingOrder.removeAll { $0 == ack.id }
                    return true
                }
                if known { try journal.append(BusJournal.acked(ack.id, peer: target, at: clock.now()), durability: .batched) }
            case .deliver(let env):
                let waiter = state.withLock { s in env.correlationID.flatMap { s.requests.removeValue(forKey: $0) } }
                if let waiter {
                    waiter.resume(returning: env)
                } else {
                    logger.debug("unsolicited message from \(target)", metadata: ["type": "\(env.type)"])
                }
            case .close(let refusal):
                logger.warning("bus connection to \(target) closed", metadata: ["code": "\(refusal.code.rawValue)", "detail": "\(refusal.detail)"])
                return true
            }
        }
        return false
    }

    func failRequests(_ error: BusClientError) {
        let waiting = state.withLock { s in
            defer { s.requests = [:] }
            return Array(s.requests.values)
        }
        waiting.forEach { $0.resume(throwing: error) }
    }
}

/// Process-unique ids for best-effort requests (never journaled as must-not-lose ids).
enum UniqueID {
    static let counter = Atomic<UInt64>(0)
    static func next() -> String { String(counter.add(1, ordering: .relaxed).newValue) }
}
