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
///
/// Envelopes get their sequence number and are framed under the client's lock. The sending
/// thread then writes the frame itself (a non-blocking `send` on a duplicate of the
/// connection's descriptor, outside the lock), together with whatever other threads framed
/// meanwhile, which waits for it in order. When the socket's buffer is full, the rest and
/// everything after it go to the connection's event loop, and senders write directly again once
/// it has written them. Either way the order on the wire is the sequence order, whichever thread
/// sent, and a request costs no wake-up of the event loop on the way out. Replies and acks are handled on the
/// event loop (``ClientConnectionHandler``), which resumes the waiting caller directly. Request
/// timeouts are enforced by one sweep on the same loop, scheduled for the earliest deadline
/// (a timer per request, armed from the caller's thread, would wake the loop every time).
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
    /// `identity>target?<start>.`: request ids are this and a process-unique number. `<start>`
    /// (the clock's nanoseconds when the client was made) sets each start of the process apart:
    /// the number restarts at 1 with the process, and the endpoint drops an acknowledged message
    /// whose id it handled before, also one from an earlier start, with no reply (a restarted
    /// ast-strategy's intent then waited out its timeout and was never decided).
    let requestPrefix: String
    /// Replies the endpoint sent to this client's acknowledged messages (a refusal, a result),
    /// with the message they answer; nil unless asked for at init (`keepsRepliesToSent`).
    public let repliesToSent: AsyncStream<SentReply>?
    let repliesSink: AsyncStream<SentReply>.Continuation?

    /// A reply of the endpoint to an acknowledged message this client sent: the broker's refusal of an
    /// approval, or a `command.result` that was not accepted.
    public struct SentReply: Sendable {
        /// The message as this client journaled and sent it.
        public var original: Envelope
        public var reply: Envelope
    }

    /// How many acknowledged messages are remembered for a reply that follows their ack.
    static let repliesRemembered = 256

    struct Pending: Sendable {
        var envelope: Envelope
        var lastSent: Timestamp?
        /// The seq of its `sent` entry: an outbox mark starts the next start-up's read at the oldest.
        var seq: Int64
    }

    /// A request waiting for the reply that names it as correlation. Resumed exactly once, by
    /// whoever removes it from `State.requests` under the lock (reply, sweep or disconnection).
    struct Request: Sendable {
        var continuation: CheckedContinuation<Envelope, any Error>
        var deadline: NIODeadline
    }

    /// A caller of ``waitForAck(id:timeout:)``; `token` finds it again when its task is cancelled.
    struct AckWaiter: Sendable {
        var token: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    /// The current connection.
    struct Live: Sendable {
        var number: UInt64
        var machine: ClientConnectionMachine
        var channel: any Channel
        /// A duplicate of the channel's descriptor that senders write to directly. Closed when
        /// the connection is over, by whoever touches it last (see ``BusClient/writeDirectly(_:)``),
        /// so that a sender never writes to a descriptor that names another file.
        let socket: Int32
        var established = false
        /// A sender is writing to `socket` (outside the lock); frames sent meanwhile wait in
        /// `directQueue` and that sender writes them too, in order.
        var writerActive = false
        var directQueue: [ByteBuffer] = []
        /// Frames for the event loop to write, in sequence order, once the socket was full.
        var outbound: [ByteBuffer] = []
        /// A write of `outbound` is scheduled on the event loop.
        var writeScheduled = false
        /// Batches of `outbound` handed to the channel whose last byte is not written yet.
        var batchesInFlight = 0
        /// When the sweep for timed-out requests runs next, if one is scheduled.
        var sweepAt: NIODeadline?
    }

    struct State: Sendable {
        let maxFrameBytes: Int
        let allocator = ByteBufferAllocator()
        var nextCounter: Int64
        /// Sends between taking their id and being pending (their `sent` entry being journaled):
        /// no outbox mark is written meanwhile, as it could not name their entries.
        var sendsInProgress = 0
        /// The seq of the newest outbox mark, or of the entry the start-up read began at, and
        /// the `from` that mark states.
        var lastMarkSeq: Int64 = 1
        var lastMarkFrom: Int64 = 1
        var pendingOrder: [String] = []
        var pending: [String: Pending] = [:]
        var live: Live?
        var requests: [String: Request] = [:]
        /// Tasks in ``BusClient/waitUntilConnected()``, by a number that lets a cancelled one leave.
        var connectedWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Keepalive pings sent (their nonces).
        var keepalives: UInt64 = 0
        /// When the peer last sent a frame (any: an ack, a reply, a pong), for `astctl status`.
        var lastHeard: Timestamp?
        var ackWaiters: [String: [AckWaiter]] = [:]
        /// Acknowledged messages whose reply may still come (only with `keepsRepliesToSent`),
        /// oldest first in `answerableOrder`; at most ``BusClient/repliesRemembered``.
        var keepsReplies = false
        var answerable: [String: Envelope] = [:]
        var answerableOrder: [String] = []
        /// Frames the sending thread could not write at once and left to the event loop (for
        /// tests and diagnostics).
        var deferredWrites = 0

        /// Frames `envelope` (it has its sequence number) for the live connection, in sequence
        /// order: the sender writes it itself after releasing the lock when nothing else is
        /// being written, it waits behind an active sender, or behind the event loop's queue.
        mutating func emit(_ envelope: Envelope) -> WriteWork {
            guard live != nil else { return WriteWork() }
            let frame: ByteBuffer
            do throws(FrameError) {
                frame = try HotEnvelopeCodec.frame(envelope, maximum: maxFrameBytes, allocator: allocator)
            } catch {
                return WriteWork(dropped: [(envelope, error)])
            }
            BusMetrics.clientFramesOut.increment()
            if live!.writerActive {
                live!.directQueue.append(frame)
                return WriteWork()
            }
            if live!.outbound.isEmpty, !live!.writeScheduled, live!.batchesInFlight == 0 {
                live!.writerActive = true
                return WriteWork(direct: DirectWrite(socket: live!.socket, connection: live!.number, bytes: frame))
            }
            live!.outbound.append(frame)
            deferredWrites += 1
            return scheduleQueueWrite()
        }

        /// The event loop's write of `outbound`, unless one is scheduled already.
        mutating func scheduleQueueWrite() -> WriteWork {
            guard !live!.writeScheduled else { return WriteWork() }
            live!.writeScheduled = true
            return WriteWork(queued: ScheduledWrite(channel: live!.channel, connection: live!.number))
        }

        /// Sends a pending message on the live connection if it is established.
        mutating func transmit(_ id: String, now: Timestamp) -> WriteWork {
            guard live?.machine.isEstablished == true, var p = pending[id] else { return WriteWork() }
            let env = live!.machine.envelope(
                p.envelope.message, id: p.envelope.id, correlationID: p.envelope.correlationID,
                now: p.envelope.timestamp)
            p.lastSent = now
            pending[id] = p
            return emit(env)
        }
    }

    /// What a sender must do about the connection's socket once it has released the lock.
    struct WriteWork: Sendable {
        /// Write these bytes, then what queues behind them.
        var direct: DirectWrite?
        /// Have the event loop write the queue.
        var queued: ScheduledWrite?
        /// Envelopes too large for a frame: never sent, only logged.
        var dropped: [(Envelope, FrameError)] = []

        mutating func merge(_ other: WriteWork) {
            direct = direct ?? other.direct
            queued = queued ?? other.queued
            dropped += other.dropped
        }
    }

    /// The frame a sender writes to the connection's socket itself.
    struct DirectWrite: Sendable {
        let socket: Int32
        let connection: UInt64
        var bytes: ByteBuffer
    }

    /// A write of the queue by the connection's event loop.
    struct ScheduledWrite: Sendable {
        let channel: any Channel
        let connection: UInt64
    }

    /// - Parameters:
    ///   - target: the endpoint's name (`broker@paper`); part of every outbox id.
    ///   - expectedRole: the role the endpoint must welcome us as, or nil for any.
    ///   - keepsRepliesToSent: hand replies to acknowledged messages out on ``repliesToSent``.
    public init(
        identity: ProcessIdentity, target: String, path: String, expectedRole: Role?, settings: BusSettings,
        journal: Journal, clock: any WallClock, logger: Logger, keepsRepliesToSent: Bool = false,
        outboxMarkEvery: Int64 = BusClient.defaultOutboxMarkEvery
    ) throws {
        self.outboxMarkEvery = max(1, outboxMarkEvery)
        self.identity = identity
        self.target = target
        self.path = path
        self.expectedRole = expectedRole
        self.settings = settings
        self.journal = journal
        self.clock = clock
        self.logger = logger
        requestPrefix = Self.requestPrefix(identity, target, start: clock.now())
        let restored = try Self.restoreOutbox(journal, target: target, prefix: Self.idPrefix(identity, target))
        outboxRestoreRows = restored.scanned
        var s = State(maxFrameBytes: settings.maxFrameBytes, nextCounter: restored.maxCounter + 1)
        s.lastMarkSeq = restored.from
        s.lastMarkFrom = restored.from
        s.keepsReplies = keepsRepliesToSent
        if keepsRepliesToSent {
            let (stream, sink) = AsyncStream.makeStream(of: SentReply.self)
            repliesToSent = stream
            repliesSink = sink
        } else {
            repliesToSent = nil
            repliesSink = nil
        }
        for (env, seq) in restored.pending {
            s.pendingOrder.append(env.id)
            s.pending[env.id] = Pending(envelope: env, lastSent: nil, seq: seq)
        }
        state = Mutex(s)
        markOutboxIfDue()
        if !restored.pending.isEmpty {
            logger.notice(
                "restored unacknowledged messages from the journal",
                metadata: ["target": "\(target)", "count": "\(restored.pending.count)"])
        }
    }

    static func idPrefix(_ identity: ProcessIdentity, _ target: String) -> String { "\(identity)>\(target)#" }

    /// The outbox's name in its marks' `peer` column: `sender>target`.
    static func outboxName(_ prefix: String) -> String { String(prefix.dropLast()) }

    /// How many journal entries may pass between two outbox marks (``markOutboxIfDue()``).
    public static let defaultOutboxMarkEvery: Int64 = 10_000
    let outboxMarkEvery: Int64
    /// How many entries the start-up read of the outbox went through (for tests and benchmarks).
    let outboxRestoreRows: Int

    /// What ``restoreOutbox(_:target:prefix:)`` found.
    struct RestoredOutbox {
        /// Sent-but-unacknowledged messages with the seqs of their `sent` entries, oldest first.
        var pending: [(Envelope, Int64)]
        /// The highest outbox counter used.
        var maxCounter: Int64
        /// Where the read began: the newest intact outbox mark's `from`, or entry 1.
        var from: Int64
        /// Entries read.
        var scanned: Int
    }

    /// The body of an outbox mark (``ASTJournal/EntryTypes/Bus/outboxMark``).
    struct OutboxMark: StartMarkBody {
        var counter: Int64
        var from: Int64

        var body: [UInt8] { Array("{\"counter\":\(counter),\"from\":\(from)}".utf8) }
    }

    /// Sent-but-unacknowledged messages to `target`, oldest first, and the highest outbox counter
    /// used: read from the newest outbox mark for `target` whose chain verifies (every message sent
    /// before its `from` was acknowledged), or from entry 1 without one, so that a start costs the
    /// entries since the oldest message still unacknowledged at the last mark, not the whole history.
    static func restoreOutbox(_ journal: Journal, target: String, prefix: String) throws -> RestoredOutbox {
        var from: Int64 = 1
        var maxCounter: Int64 = 0
        // Marked by the outbox's full name (sender and target): two clients of one process towards
        // one target (the command desk's, one per chat) have outboxes of their own.
        if let (_, body) = try journal.newestStartMark(type: EntryTypes.Bus.outboxMark, peer: outboxName(prefix), as: OutboxMark.self),
            body.counter >= 0
        {
            from = body.from
            maxCounter = body.counter
        }
        var order: [String] = []
        var sent: [String: (Envelope, Int64)] = [:]
        var scanned = 0
        try journal.scan(fromSeq: from) { entry in
            scanned += 1
            let r = entry.record
            guard r.peer == target, let id = r.messageID, id.hasPrefix(prefix) else { return true }
            switch r.kind {
            case .sent:
                if let n = Int64(id.dropFirst(prefix.count)) { maxCounter = max(maxCounter, n) }
                if let env = try? EnvelopeCodec.decode(r.body), env.message.delivery == .acknowledged {
                    order.append(id)
                    sent[id] = (env, entry.seq)
                }
            case .acked:
                sent[id] = nil
            default:
                break
            }
            return true
        }
        return RestoredOutbox(pending: order.compactMap { sent[$0] }, maxCounter: maxCounter, from: from, scanned: scanned)
    }

    /// Journals an outbox mark once ``outboxMarkEvery`` entries were written since the last one
    /// (or since where the start-up read began) and the oldest unacknowledged message moved: the
    /// next start reads the outbox from that message's entry (from the mark, with none pending).
    /// Runs on the thread that calls it (it may commit: never on an event loop).
    func markOutboxIfDue() {
        let every = outboxMarkEvery
        guard journal.lastSeq - state.withLock({ $0.lastMarkSeq }) >= every else { return }
        do {
            let seq = try journal.appendCovering { lastSeq in
                state.withLock { s -> JournalRecord? in
                    guard s.sendsInProgress == 0, lastSeq - s.lastMarkSeq >= every else { return nil }
                    let from = s.pending.values.lazy.map(\.seq).min() ?? lastSeq + 1
                    guard from > s.lastMarkFrom else {
                        // The oldest pending message is where the last mark said: a new mark would gain nothing.
                        s.lastMarkSeq = lastSeq
                        return nil
                    }
                    s.lastMarkSeq = lastSeq + 1
                    s.lastMarkFrom = from
                    let mark = OutboxMark(counter: s.nextCounter - 1, from: from)
                    return JournalRecord(
                        kind: .state, type: EntryTypes.Bus.outboxMark, timestamp: clock.now(),
                        peer: Self.outboxName(Self.idPrefix(identity, target)), body: mark.body)
                }
            }
            if let seq {
                logger.debug("outbox mark", metadata: ["target": "\(target)", "seq": "\(seq)"])
            }
        } catch {
            logger.warning("could not journal an outbox mark", metadata: ["target": "\(target)", "error": "\(error)"])
        }
    }

    /// Messages journaled but not yet acknowledged.
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    public var isConnected: Bool { state.withLock { $0.live?.machine.isEstablished == true } }

    /// This client's link for `astctl status`: connected or not, when the peer was last heard
    /// from, and how many must-not-lose messages wait for its acknowledgement.
    public var link: BusLinkReport {
        state.withLock { s in
            BusLinkReport(
                target: target, connected: s.live?.machine.isEstablished == true, lastHeard: s.lastHeard,
                unacknowledged: s.pending.count, oldestUnacknowledged: s.pendingOrder.first.flatMap { s.pending[$0]?.envelope.timestamp })
        }
    }

    /// Sends a must-not-lose message: journaled durably before this returns, delivered at
    /// least once (the receiver drops duplicates). Returns the message id.
    ///
    /// The durable commit (an fsync) runs on the calling thread; ``waitForAck(id:timeout:)`` waits for
    /// the acknowledgement.
    @discardableResult
    public func send(_ message: Message, correlationID: String? = nil) throws -> String {
        guard message.delivery == .acknowledged else { throw BusClientError.notAcknowledgedDelivery(message.type) }
        let now = clock.now()
        // Ids come from a counter restored from the journal, so they are stable across restarts.
        let (id, envelope) = state.withLock { s in
            let id = Self.idPrefix(identity, target) + String(s.nextCounter)
            s.nextCounter += 1
            s.sendsInProgress += 1
            return (id, Envelope(sender: identity, seq: 0, id: id, correlationID: correlationID, timestamp: now, message: message))
        }
        let seq: Int64
        do {
            seq = try journal.append(BusJournal.message(.sent, envelope, peer: target), durability: .durable)
        } catch {
            state.withLock { $0.sendsInProgress -= 1 }
            throw error
        }
        let write = state.withLock { s in
            s.sendsInProgress -= 1
            s.pendingOrder.append(id)
            s.pending[id] = Pending(envelope: envelope, lastSent: nil, seq: seq)
            return s.transmit(id, now: now)
        }
        perform(write)
        return id
    }

    /// Sends a must-not-lose message as ``send(_:correlationID:)`` does and returns its id once
    /// the endpoint has acknowledged it, however many reconnections and re-sends that takes
    /// (see ``waitForAck(id:timeout:)``). A timeout or cancellation ends the wait, not the delivery.
    public func sendAndWaitForAck(_ message: Message, correlationID: String? = nil, timeout: Duration? = nil) async throws -> String {
        let id = try send(message, correlationID: correlationID)
        try await waitForAck(id: id, timeout: timeout)
        return id
    }

    /// Returns once the message `id` (from ``send(_:correlationID:)``) is acknowledged and its
    /// `acked` entry is in the journal (batched); at once if it is not pending, that is already
    /// acknowledged or never sent by this client. Throws ``BusClientError/timedOut(_:)`` after
    /// `timeout` (nil: no limit) and `CancellationError` if the task is cancelled first; either
    /// way the message stays pending and is still delivered.
    public func waitForAck(id: String, timeout: Duration? = nil) async throws {
        guard let timeout else { return try await waitForAckUnbounded(id: id) }
        try await withThrowingTaskGroup { group in
            group.addTask { try await self.waitForAckUnbounded(id: id) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw BusClientError.timedOut("the acknowledgement of \(id)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// ``waitForAck(id:timeout:)`` without a time limit.
    func waitForAckUnbounded(id: String) async throws {
        let token = UniqueID.nextNumber()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                enum Outcome { case waiting, acknowledged, cancelled }
                let outcome = state.withLock { s -> Outcome in
                    guard s.pending[id] != nil else { return .acknowledged }
                    // Checked under the lock that the cancellation handler takes: either it
                    // finds this waiter or the task is already seen as cancelled here.
                    if Task.isCancelled { return .cancelled }
                    s.ackWaiters[id, default: []].append(AckWaiter(token: token, continuation: c))
                    return .waiting
                }
                switch outcome {
                case .waiting: break
                // Behind the journaling of acknowledgements already received (in order).
                case .acknowledged: BusWorkThread.shared.execute { c.resume() }
                case .cancelled: c.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter = state.withLock { s -> AckWaiter? in
                guard var waiters = s.ackWaiters[id], let i = waiters.firstIndex(where: { $0.token == token }) else { return nil }
                let waiter = waiters.remove(at: i)
                s.ackWaiters[id] = waiters.isEmpty ? nil : waiters
                return waiter
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Sends a best-effort message and waits for the reply that names it as correlation, until
    /// `timeout` or until the calling task is cancelled (then it throws `CancellationError`).
    public func request(_ message: Message, timeout: Duration) async throws -> Envelope {
        let id = requestPrefix + UniqueID.next()
        let deadline = NIODeadline.now() + .nanoseconds(timeout.totalNanoseconds)
        return try await withTaskCancellationHandler {
            try await send(request: message, id: id, deadline: deadline)
        } onCancel: {
            state.withLock { $0.requests.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    private func send(request message: Message, id: String, deadline: NIODeadline) async throws -> Envelope {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Envelope, any Error>) in
            let (refusal, write, sweep) = state.withLock { s -> ((any Error)?, WriteWork, ScheduledWrite?) in
                // Checked under the lock: a cancellation after this finds the request and fails it.
                if Task.isCancelled { return (CancellationError(), WriteWork(), nil) }
                guard s.live?.machine.isEstablished == true else { return (BusClientError.notConnected(target), WriteWork(), nil) }
                let env = s.live!.machine.envelope(message, id: id, correlationID: nil, now: clock.now())
                s.requests[id] = Request(continuation: c, deadline: deadline)
                var sweep: ScheduledWrite?
                if s.live!.sweepAt.map({ deadline < $0 }) ?? true {
                    s.live!.sweepAt = deadline
                    sweep = ScheduledWrite(channel: s.live!.channel, connection: s.live!.number)
                }
                return (nil, s.emit(env), sweep)
            }
            if let refusal { return c.resume(throwing: refusal) }
            perform(write)
            if let sweep { sweep.channel.eventLoop.scheduleTask(deadline: deadline) { self.sweepRequests(sweep) } }
        }
    }

    /// Waits until the handshake with the endpoint has completed, or until the calling task is
    /// cancelled (then it returns at once, not connected: check `Task.isCancelled` or ``isConnected``).
    public func waitUntilConnected() async {
        let number = state.withLock { s in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s in
                    // Checked under the lock: a cancellation after this finds the waiter and resumes it.
                    if s.live?.machine.isEstablished == true || Task.isCancelled { return true }
                    s.connectedWaiters[number] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.connectedWaiters.removeValue(forKey: number) }?.resume()
        }
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
        // The acknowledgements received so far are journaled on the work thread: wait for them,
        // so that the journal may be closed once this returns.
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in BusWorkThread.shared.execute { c.resume() } }
    }

    /// Re-sends messages that were not acknowledged within the ack timeout.
    func resendLoop() async {
        let timeout = settings.ackTimeout
        while !Task.isCancelled {
            do { try await Task.sleep(for: timeout / 2) } catch { return }
            // A journal that grows while nothing is sent to this target still gets its marks.
            if journal.lastSeq - state.withLock({ $0.lastMarkSeq }) >= outboxMarkEvery {
                BusWorkThread.shared.execute { [self] in markOutboxIfDue() }
            }
            let now = clock.now()
            let write = state.withLock { s in
                var write = WriteWork()
                for id in s.pendingOrder {
                    guard let sent = s.pending[id]?.lastSent, now.duration(since: sent) >= timeout else { continue }
                    write.merge(s.transmit(id, now: now))
                }
                return write
            }
            perform(write)
        }
    }

    /// Pings the endpoint on connection `number`, so that the endpoint's idle timeout never closes
    /// a live client that has nothing to say (overnight, for instance). Runs on the connection's
    /// event loop every keepalive interval, not in a task: a cooperative pool kept busy by the
    /// process's own work (or a loaded machine) must not silence it. The pong is not waited for: a
    /// lost connection is the connection's own loop's to notice.
    func keepalive(connection number: UInt64) {
        let write = state.withLock { s -> WriteWork in
            guard s.live?.number == number, s.live?.machine.isEstablished == true else { return WriteWork() }
            s.keepalives &+= 1
            let ping = Message.ping(Ping(nonce: s.keepalives))
            let env = s.live!.machine.envelope(ping, id: requestPrefix + UniqueID.next(), correlationID: nil, now: clock.now())
            return s.emit(env)
        }
        perform(write)
    }

    /// One connection's lifetime; returns whether the handshake completed.
    func connectOnce(group: any EventLoopGroup) async throws -> Bool {
        let number = connections.add(1, ordering: .relaxed).newValue
        let maxFrame = settings.maxFrameBytes
        // Our own socket, so that senders can write to a duplicate of it (see `State.emit`).
        let fd = try UnixSocket.connectNonBlocking(path: path)
        let socket = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard socket >= 0 else {
            let e = errno
            close(fd)
            throw SocketError(operation: "dup", path: path, errno: e)
        }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maximumPayload: maxFrame)))
                        try pipeline.addHandler(ClientConnectionHandler(client: self, connection: number))
                    }
                }
                .withConnectedSocket(fd).get()
        } catch {
            close(socket)
            throw error
        }
        var machine = ClientConnectionMachine(local: identity, connection: number, expectedPeer: expectedRole)
        let hello = machine.hello(pid: getpid(), now: clock.now())
        let write = state.withLock { s in
            s.live = Live(number: number, machine: machine, channel: channel, socket: socket)
            return s.emit(hello)
        }
        perform(write)
        let interval = TimeAmount.nanoseconds(settings.keepaliveInterval.totalNanoseconds)
        let keepalive = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            self.keepalive(connection: number)
        }
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        keepalive.cancel()
        // From here no sender starts writing to `socket`; one that is still writing closes it.
        let (established, writerOwnsSocket) = state.withLock { s in
            guard let live = s.live, live.number == number else { return (false, false) }
            s.live = nil
            return (live.established, live.writerActive)
        }
        if !writerOwnsSocket { close(socket) }
        failRequests(BusClientError.notConnected(target))
        if established {
            logger.info("bus connection to \(target) lost")
        }
        return established
    }

    /// Carries out what a sender must do after releasing the lock.
    func perform(_ work: WriteWork) {
        for (envelope, error) in work.dropped {
            logger.error(
                "bus message not sent: \(error)", metadata: ["target": "\(target)", "id": "\(envelope.id)", "type": "\(envelope.type)"])
        }
        if let queued = work.queued { queued.channel.eventLoop.execute { self.writeQueued(queued) } }
        if let direct = work.direct { writeDirectly(direct) }
    }

    /// Writes a frame to the socket from this thread, then the frames that queued behind it
    /// meanwhile, until none is left. If the socket takes only part (its buffer is full) the
    /// rest and everything behind it go to the event loop, which writes when the socket drains.
    func writeDirectly(_ first: DirectWrite) {
        enum Next { case more(ByteBuffer), done, handOver(WriteWork), abandoned }
        var bytes = first.bytes
        while true {
            let written = Self.writeNow(bytes, to: first.socket)
            let next = state.withLock { s -> Next in
                guard s.live?.number == first.connection else { return .abandoned }
                if written < bytes.readableBytes {
                    bytes.moveReaderIndex(forwardBy: written)
                    s.live!.outbound = [bytes] + s.live!.directQueue + s.live!.outbound
                    s.live!.directQueue = []
                    s.live!.writerActive = false
                    s.deferredWrites += 1
                    return .handOver(s.scheduleQueueWrite())
                }
                guard var more = s.live!.directQueue.first else {
                    s.live!.writerActive = false
                    return .done
                }
                for frame in s.live!.directQueue.dropFirst() { more.writeImmutableBuffer(frame) }
                s.live!.directQueue = []
                return .more(more)
            }
            switch next {
            case .more(let more):
                bytes = more
            case .done:
                return
            case .handOver(let work):
                return perform(work)
            case .abandoned:
                // The connection ended while this thread wrote: the socket was left to it.
                close(first.socket)
                return
            }
        }
    }

    /// Writes the queue in order and flushes; on the event loop. Senders queue behind the batch
    /// until its last byte is written.
    func writeQueued(_ write: ScheduledWrite) {
        let frames = state.withLock { s -> [ByteBuffer] in
            guard s.live?.number == write.connection else { return [] }
            s.live!.writeScheduled = false
            let frames = s.live!.outbound
            s.live!.outbound = []
            if !frames.isEmpty { s.live!.batchesInFlight += 1 }
            return frames
        }
        guard let last = frames.last else { return }
        let channel = write.channel
        for frame in frames.dropLast() { channel.write(frame, promise: nil) }
        // Writes complete in order: the last one's completion means the whole batch is out.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in self.batchWritten(write.connection) }
        channel.writeAndFlush(last, promise: written)
    }

    func batchWritten(_ connection: UInt64) {
        state.withLock { s in
            if s.live?.number == connection { s.live!.batchesInFlight -= 1 }
        }
    }

    /// Writes as much of `frame` as the socket takes now, without blocking or raising SIGPIPE;
    /// returns how many bytes it wrote. A full socket buffer (`EAGAIN`) leaves the rest to the
    /// event loop; any other error means the connection is failing, which its event loop sees.
    static func writeNow(_ frame: ByteBuffer, to socket: Int32) -> Int {
        frame.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.send(socket, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            return offset
        }
    }

    /// What the event loop does after handling a frame, outside the lock.
    struct Effects {
        var write = WriteWork()
        var established: PeerInfo?
        var connectedWaiters: [CheckedContinuation<Void, Never>] = []
        var acked: [String] = []
        var ackWaiters: [AckWaiter] = []
        var replies: [(Request, Envelope)] = []
        var repliesToSent: [SentReply] = []
        var unsolicited: [MessageType] = []
        var close: Refusal?
    }

    /// A frame arrived on connection `number` (decoded, or not); on its event loop.
    func received(_ decoded: Result<Envelope, EnvelopeError>, connection number: UInt64) {
        let now = clock.now()
        let effects = state.withLock { s -> Effects? in
            guard s.live?.number == number else { return nil }
            s.lastHeard = now
            let actions = s.live!.machine.received(decoded, now: now)
            return apply(actions, to: &s, now: now)
        }
        if let effects { carryOut(effects, channelOf: number, at: now) }
    }

    /// The frame decoder failed on connection `number`; on its event loop.
    func frameFailed(_ error: FrameError, connection number: UInt64) {
        let now = clock.now()
        let effects = state.withLock { s -> Effects? in
            guard s.live?.number == number else { return nil }
            let actions = s.live!.machine.frameError(error, now: now)
            return apply(actions, to: &s, now: now)
        }
        if let effects { carryOut(effects, channelOf: number, at: now) }
    }

    /// The state changes of a machine's actions, under the lock.
    func apply(_ actions: [ConnectionAction], to s: inout State, now: Timestamp) -> Effects {
        var effects = Effects()
        for action in actions {
            switch action {
            case .send(let env):
                effects.write.merge(s.emit(env))
            case .established(let peer):
                s.live!.established = true
                effects.established = peer
                for id in s.pendingOrder { effects.write.merge(s.transmit(id, now: now)) }
                effects.connectedWaiters = s.connectedWaiters.keys.sorted().compactMap { s.connectedWaiters[$0] }
                s.connectedWaiters = [:]
            case .acknowledged(let ack):
                guard let answered = s.pending.removeValue(forKey: ack.id) else { continue }
                if s.keepsReplies {
                    s.answerable[ack.id] = answered.envelope
                    s.answerableOrder.append(ack.id)
                    if s.answerableOrder.count > Self.repliesRemembered { s.answerable[s.answerableOrder.removeFirst()] = nil }
                }
                if let i = s.pendingOrder.firstIndex(of: ack.id) { s.pendingOrder.remove(at: i) }
                effects.acked.append(ack.id)
                effects.ackWaiters += s.ackWaiters.removeValue(forKey: ack.id) ?? []
            case .deliver(let env):
                if let correlation = env.correlationID, let request = s.requests.removeValue(forKey: correlation) {
                    effects.replies.append((request, env))
                } else if let correlation = env.correlationID, let original = s.answerable.removeValue(forKey: correlation) {
                    effects.repliesToSent.append(SentReply(original: original, reply: env))
                } else if env.type != .pong {  // a keepalive's answer
                    effects.unsolicited.append(env.type)
                }
            case .close(let refusal):
                effects.close = refusal
            }
        }
        return effects
    }

    /// Everything of `effects` that must not run under the lock.
    func carryOut(_ effects: Effects, channelOf number: UInt64, at now: Timestamp) {
        perform(effects.write)
        if let peer = effects.established {
            logger.info("bus connected to \(target)", metadata: ["peer": "\(peer)"])
            effects.connectedWaiters.forEach { $0.resume() }
        }
        for (request, reply) in effects.replies {
            request.continuation.resume(returning: reply)
        }
        for reply in effects.repliesToSent { repliesSink?.yield(reply) }
        for type in effects.unsolicited {
            logger.debug("unsolicited message from \(target)", metadata: ["type": "\(type)"])
        }
        if !effects.acked.isEmpty {
            // The journal may block (a batch commit, or its lock held by a durable commit):
            // not on the event loop. The waiters resume once the entries are staged.
            let (ids, waiters) = (effects.acked, effects.ackWaiters)
            BusWorkThread.shared.execute { [self] in
                for id in ids {
                    do {
                        try journal.append(BusJournal.acked(id, peer: target, at: now), durability: .batched)
                    } catch {
                        logger.error("could not journal an acknowledgement", metadata: ["id": "\(id)", "error": "\(error)"])
                    }
                }
                waiters.forEach { $0.continuation.resume() }
                markOutboxIfDue()
            }
        }
        if let refusal = effects.close {
            logger.warning(
                "bus connection to \(target) closed", metadata: ["code": "\(refusal.code.rawValue)", "detail": "\(refusal.detail)"])
            // After the queued refusal is written: tasks on an event loop run in order.
            if let channel = state.withLock({ s in s.live?.number == number ? s.live?.channel : nil }) {
                channel.eventLoop.execute { channel.close(promise: nil) }
            }
        }
    }

    /// Fails the requests whose deadline has passed and schedules the next sweep for the
    /// earliest deadline left; on the event loop. Only the sweep whose time it is reschedules.
    func sweepRequests(_ sweep: ScheduledWrite) {
        let now = NIODeadline.now()
        let (expired, next) = state.withLock { s -> ([Request], NIODeadline?) in
            guard s.live?.number == sweep.connection, let due = s.live!.sweepAt, due <= now else { return ([], nil) }
            let expired = s.requests.filter { $0.value.deadline <= now }
            for id in expired.keys { s.requests[id] = nil }
            s.live!.sweepAt = s.requests.values.map(\.deadline).min()
            return (Array(expired.values), s.live!.sweepAt)
        }
        if let next { sweep.channel.eventLoop.assumeIsolated().scheduleTask(deadline: next) { self.sweepRequests(sweep) } }
        for request in expired {
            request.continuation.resume(throwing: BusClientError.timedOut("a reply from \(target)"))
        }
    }

    func failRequests(_ error: BusClientError) {
        let waiting = state.withLock { s in
            defer { s.requests = [:] }
            return Array(s.requests.values)
        }
        for request in waiting {
            request.continuation.resume(throwing: error)
        }
    }
}

/// One client connection's inbound side, on its event loop: hands every frame, or the frame
/// decoder's error, to the ``BusClient`` it belongs to.
final class ClientConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let client: BusClient
    private let connection: UInt64
    private var failed = false

    init(client: BusClient, connection: UInt64) {
        self.client = client
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        BusMetrics.clientFramesIn.increment()
        client.received(Result { () throws(EnvelopeError) in try HotEnvelopeCodec.decode(frame) }, connection: connection)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !failed else { return }
        failed = true
        if let error = error as? FrameError {
            client.frameFailed(error, connection: connection)
        } else {
            client.logger.debug("bus connection to \(client.target) failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }
}

extension BusClient {
    /// The prefix of the request ids of a client made at `start` (see ``requestPrefix``).
    static func requestPrefix(_ identity: ProcessIdentity, _ target: String, start: Timestamp) -> String {
        "\(identity)>\(target)?\(start.nanoseconds)."
    }
}

/// Process-unique numbers for request ids (never journaled as must-not-lose ids); unique across
/// starts only with the start in ``BusClient/requestPrefix``.
enum UniqueID {
    static let counter = Atomic<UInt64>(0)
    static func nextNumber() -> UInt64 { counter.add(1, ordering: .relaxed).newValue }
    static func next() -> String { String(nextNumber()) }
}
