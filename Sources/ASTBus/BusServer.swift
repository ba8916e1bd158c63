import ASTCore
import ASTJournal
import ASTWire
import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a process does with the messages its endpoint receives.
public protocol BusInbox: Sendable {
    /// Handles one delivered message and returns an optional reply. Messages of one
    /// connection arrive one at a time, in order. An acknowledged message reaches this
    /// method once, after it is journaled; it is acknowledged when this returns.
    ///
    /// Called from the bus's work thread (a task executor of its own, not an event loop);
    /// an inbox that is an actor runs on its own executor as usual.
    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message?

    /// Checks a message before the bus journals it: ranges, sizes, arithmetic that cannot
    /// overflow. A refusal is answered to the sender (a `command.result` that is not accepted;
    /// an acknowledged message is still acknowledged, so that it is not re-sent) and recorded
    /// as a bounded `bus.input_refused` entry; the message is neither journaled as received nor
    /// delivered. Called on the bus's work thread, in arrival order, so it must not block.
    func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal?
}

extension BusInbox {
    /// Accepts every message that decoded (an inbox without checks of its own).
    public func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? { nil }
}

/// A listening bus endpoint: admits peers by the kernel's uid and pid for the connection
/// (checked against astd's peer table when there is one) and by role, journals what arrives,
/// acknowledges must-not-lose messages once journaled and drops their re-sends.
///
/// A bad peer (garbage, oversized frames, a wrong version or role) is refused and
/// disconnected with a logged and journaled reason; other connections carry on.
///
/// Each connection's protocol runs on its event loop (``ServerConnectionHandler``): pings,
/// the welcome and refusals are answered there without a thread hand-off. Only what must
/// touch the journal or the inbox goes, in arrival order, to a task on ``BusWorkThread``,
/// which writes the ack or reply back through the event loop.
public final class BusServer: Sendable {
    public let identity: ProcessIdentity
    let policy: EndpointPolicy
    let settings: BusSettings
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let inbox: any BusInbox
    let seen: Mutex<Set<String>>
    let connectionCounter = Atomic<UInt64>(0)
    let established = Atomic<Int>(0)
    /// How a peer's claimed identity is checked: astd's peer table, or uid only.
    let identityCheck: PeerIdentityCheck
    /// Checks a message before it is journaled as received (the broker's approval signatures).
    let screen: (any BusMessageScreen)?
    /// Raises identity and forgery refusals as P0 alerts.
    let alarm: SecurityAlarm?
    /// Connections accepted and not yet closed (before and after hello), for the connection cap.
    let openSockets = Atomic<Int>(0)
    /// What refusals may cost in journal and log (``RefusalBudget``).
    let refusals: Mutex<RefusalBudget>

    public init(
        identity: ProcessIdentity, policy: EndpointPolicy, settings: BusSettings, journal: Journal,
        clock: any WallClock, logger: Logger, inbox: any BusInbox, identityCheck: PeerIdentityCheck = .uidOnly,
        screen: (any BusMessageScreen)? = nil, alarm: SecurityAlarm? = nil
    ) throws {
        self.identity = identity
        self.identityCheck = identityCheck
        self.screen = screen
        self.alarm = alarm
        self.policy = policy
        self.settings = settings
        self.journal = journal
        self.clock = clock
        self.logger = logger
        self.inbox = inbox
        self.seen = Mutex(try Self.restoreSeen(journal))
        self.refusals = Mutex(RefusalBudget(perWindow: settings.refusalBudget, interval: settings.refusalInterval))
    }

    /// Connections that completed their hello and are open now.
    public var openConnections: Int { established.load(ordering: .relaxed) }

    /// Ids of acknowledged messages already journaled: a re-send of one is acknowledged again
    /// but not delivered twice, also across restarts. Read from the checkpoint horizon
    /// (``ASTJournal/Journal/checkpointHorizon(keeping:)``) on, so the set and the start-up do not
    /// grow with history: a message before it was handled into the state the checkpoints carry,
    /// and a re-send that old reaches a core that is idempotent on it (a re-sent intent gets its
    /// decision again, a report or a bracket already applied is recognised by the book).
    static func restoreSeen(_ journal: Journal) throws -> Set<String> {
        var ids = Set<String>()
        try journal.scan(fromSeq: try journal.checkpointHorizon()) { entry in
            if entry.record.kind == .received, let id = entry.record.messageID,
                MessageCatalog.delivery(of: MessageType(rawValue: entry.record.type)) == .acknowledged
            {
                ids.insert(id)
            }
            return true
        }
        return ids
    }

    /// One accepted connection as the accept loop hands it to its task.
    struct Connection: Sendable {
        let channel: any Channel
        let work: ConnectionWorkQueue
        let handler: NIOLoopBound<ServerConnectionHandler>
    }

    /// Serves connections on an already listening socket (from `LISTEN_FDS` or
    /// ``UnixSocket/listen(path:backlog:mode:)``) until the task is cancelled.
    public func run(listeningFD fd: Int32, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .bind(fd) { channel in
                // NIO has no typed SO_PEERCRED: read the kernel's credentials from the descriptor.
                let credentials: EventLoopFuture<PeerCredentials?> =
                    if let provider = channel as? any SocketOptionProvider {
                        provider.unsafeGetSocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
                            .map { Optional($0) }.recover { _ in nil }
                    } else {
                        channel.eventLoop.makeSucceededFuture(nil)
                    }
                return credentials.flatMapThrowing { cred in try self.setUp(channel, peerUID: cred?.uid, peerPID: cred?.pid) }
            }
        logger.info("bus endpoint \(identity) listening", metadata: ["fd": "\(fd)"])
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask(executorPreference: BusWorkThread.shared) { try await self.serve(connection) }
                }
            }
        }
    }

    /// Builds a new connection's pipeline; runs on its event loop.
    func setUp(_ channel: any Channel, peerUID: UInt32?, peerPID: Int32?) throws -> Connection {
        let number = connectionCounter.add(1, ordering: .relaxed).newValue
        let machine = ServerConnectionMachine(
            local: identity, localPID: getpid(), policy: policy, ownUID: getuid(),
            peerUID: peerUID, peerPID: peerPID, identityCheck: identityCheck,
            maxFrameBytes: settings.maxFrameBytes, connection: number)
        let work = ConnectionWorkQueue()
        let handler = ServerConnectionHandler(server: self, machine: machine, work: work)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maximumPayload: settings.maxFrameBytes)))
        try pipeline.addHandler(handler)
        return Connection(channel: channel, work: work, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
    }

    /// One connection's journal entries and deliveries, in the order its handler queued them,
    /// until the connection has closed and everything it queued is done. Runs on
    /// ``BusWorkThread``: the journal commits block that thread, never an event loop.
    func serve(_ connection: Connection) async throws {
        let channel = connection.channel
        do {
            try await withTaskCancellationHandler {
                // Cancellation closes the channel; the handler then queues the disconnection
                // and ends the queue, so that what was received is still journaled.
                while let work = await connection.work.next() {
                    switch work {
                    case .journal(let record):
                        try journal.append(record, durability: .batched)
                    case .journalProtocolError(let record):
                        do {
                            try journal.append(record, durability: .batched)
                        } catch {
                            logger.error("could not journal a protocol error", metadata: ["error": "\(error)"])
                        }
                    case .deliver(let envelope, let raw, let peer):
                        let outcome = try await deliver(envelope, raw: raw, from: peer)
                        let handler = connection.handler
                        handler.eventLoop.execute { handler.value.delivered(envelope, outcome) }
                    }
                }
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            // Our own journal failing is a broken invariant: stop the endpoint, let the process restart.
            connection.work.abandon()
            channel.close(promise: nil)
            throw error
        }
    }

    /// What delivering a message produced, for the event loop to answer with.
    struct Delivered: Sendable {
        /// The message was acknowledged-delivery: answer with an ack.
        var acknowledge: Bool
        /// It had been received before (a re-send): journaled and delivered once already.
        var duplicate: Bool
        var reply: Message?
    }

    /// Journals a message as received (durably for acknowledged ones, which are delivered once
    /// per id, also across restarts) and hands it to the inbox.
    func deliver(_ env: Envelope, raw: [UInt8], from peer: PeerInfo) async throws -> Delivered {
        let peerName = peer.identity.description
        if let refusal = inbox.validate(env, from: peer) {
            // Validate before you journal: nothing of a refused message is recorded as an input.
            logger.warning(
                "message refused before journaling",
                metadata: [
                    "peer": "\(peerName)", "type": "\(env.type)", "id": "\(InputRefusal.bounded(env.id, limit: 100))",
                    "code": "\(refusal.code.rawValue)", "detail": "\(refusal.detail)",
                ])
            try journal.append(
                BusJournal.event(
                    .inputRefused, endpoint: identity.description, peer: peerName,
                    code: refusal.code.rawValue,
                    detail: InputRefusal.bounded("\(env.type) \(env.id) (\(raw.count) bytes): \(refusal.detail)"),
                    at: clock.now()), durability: .batched)
            return Delivered(
                acknowledge: env.message.delivery == .acknowledged, duplicate: false,
                reply: .commandResult(OperatorReply(accepted: false, message: refusal.description)))
        }
        guard env.message.delivery == .acknowledged else {
            try journal.append(BusJournal.message(.received, env, peer: peerName, raw: raw), durability: .batched)
            return Delivered(acknowledge: false, duplicate: false, reply: await inbox.receive(env, from: peer))
        }
        let fresh = seen.withLock { $0.insert(env.id).inserted }
        guard fresh else {
            logger.debug("duplicate message acknowledged again", metadata: ["id": "\(env.id)", "peer": "\(peerName)"])
            return Delivered(acknowledge: true, duplicate: true, reply: nil)
        }
        if let screen, let refusal = screen.refusal(for: env, from: peer) {
            // Not journaled as received, never delivered. Acknowledged, so that the sender's
            // outbox does not send it forever; the refusal tells the sender why.
            logViolation(refusal, peer: peer)
            try journal.append(protocolErrorRecord(refusal, peer: peer), durability: .durable)
            return Delivered(acknowledge: true, duplicate: false, reply: .refused(refusal))
        }
        do {
            try journal.append(BusJournal.message(.received, env, peer: peerName, raw: raw), durability: .durable)
        } catch {
            seen.withLock { _ = $0.remove(env.id) }
            throw error
        }
        return Delivered(acknowledge: true, duplicate: false, reply: await inbox.receive(env, from: peer))
    }

    /// Logs a refusal (already truncated) and returns its journal entry, within the refusal
    /// budget of the peer's uid and the code; past the budget it is only counted, and the count
    /// is journaled and logged once when the window ends. Runs on `eventLoop`.
    func refusalRecord(
        _ refusal: Refusal, peer: PeerInfo?, credentials: (uid: UInt32, pid: Int32)?,
        eventLoop: any EventLoop
    ) -> JournalRecord? {
        // A stale claim (its process has exited) has a budget of its own, so that a burst of
        // them after a restart never uses up the one that records a live impostor.
        let stale = StaleIdentityClaim.isStale(refusal, pid: credentials?.pid)
        let refusal = stale ? Refusal(code: refusal.code, detail: refusal.detail + " (stale: that process has exited)") : refusal
        let key = RefusalBudget.Key(uid: credentials?.uid, code: refusal.code.rawValue + (stale ? " stale" : ""))
        switch refusals.withLock({ $0.admit(key, now: clock.now()) }) {
        case .record:
            logViolation(refusal, peer: peer, pid: credentials?.pid, stale: stale)
            return protocolErrorRecord(refusal, peer: peer)
        case .suppress(let first):
            if first { scheduleRefusalSummary(key, on: eventLoop) }
            return nil
        }
    }

    /// Counts a connection over the cap, closed before anything was read from it.
    func connectionOverCap(credentials: (uid: UInt32, pid: Int32)?, eventLoop: any EventLoop) {
        let key = RefusalBudget.Key(uid: credentials?.uid, code: Self.connectionLimitCode)
        switch refusals.withLock({ $0.admit(key, now: clock.now()) }) {
        case .record:
            let detail = "\(settings.maxConnections) connections open, the most this endpoint serves; closed at once"
            logger.warning(
                "bus connection over the cap closed",
                metadata: [
                    "uid": "\(credentials.map { String($0.uid) } ?? "unknown")",
                    "pid": "\(credentials.map { String($0.pid) } ?? "unknown")",
                    "limit": "\(settings.maxConnections)",
                ])
            let record = BusJournal.event(
                .protocolError, endpoint: identity.description, peer: nil, code: Self.connectionLimitCode,
                detail: detail, at: clock.now())
            appendFromWorkThread(record)
        case .suppress(let first):
            if first { scheduleRefusalSummary(key, on: eventLoop) }
        }
    }

    /// The code journaled for connections closed by the connection cap (not a wire refusal: the
    /// peer is told nothing).
    static let connectionLimitCode = "connection_limit"

    private func scheduleRefusalSummary(_ key: RefusalBudget.Key, on eventLoop: any EventLoop) {
        let interval = TimeAmount.nanoseconds(settings.refusalInterval.totalNanoseconds)
        eventLoop.scheduleTask(in: interval) { [self] in
            let count = refusals.withLock { $0.closeWindow(key) }
            guard count > 0 else { return }
            appendFromWorkThread(refusalSummary(key, count: count, window: "in the last \(settings.refusalInterval)"))
        }
    }

    /// Logs the summary of `count` refusals of `key` suppressed `window` and returns its journal entry.
    private func refusalSummary(_ key: RefusalBudget.Key, count: Int, window: String) -> JournalRecord {
        let detail =
            "\(count) more refusals (\(key.code)) from uid \(key.uid.map(String.init) ?? "unknown") \(window), "
            + "beyond the \(settings.refusalBudget) recorded in full"
        logger.warning(
            "bus refusals summarised",
            metadata: [
                "code": "\(key.code)", "uid": "\(key.uid.map(String.init) ?? "unknown")", "count": "\(count)",
            ])
        return BusJournal.event(
            .refusalSummary, endpoint: identity.description, peer: nil, code: key.code,
            detail: detail, at: clock.now())
    }

    /// At an orderly shutdown: journals the summary of every refusal window still open, which
    /// would otherwise end with the process and its count be lost. A window's scheduled summary
    /// that fires later finds it closed and writes nothing. Returns how many summaries it wrote.
    @discardableResult
    public func flushRefusalSummaries() -> Int {
        let open = refusals.withLock { $0.closeAll() }
        for (key, count) in open {
            do {
                try journal.append(refusalSummary(key, count: count, window: "in the window still open at shutdown"), durability: .batched)
            } catch {
                logger.error("could not journal a bus refusal summary at shutdown", metadata: ["error": "\(error)"])
            }
        }
        return open.count
    }

    /// Journals an entry that belongs to no connection's queue, on ``BusWorkThread`` like every
    /// other bus write.
    private func appendFromWorkThread(_ record: JournalRecord) {
        BusWorkThread.shared.execute { [self] in
            do {
                try journal.append(record, durability: .batched)
            } catch {
                logger.error("could not journal a bus refusal", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Logs a refusal; the caller queues its journal entry (``protocolErrorRecord(_:peer:)``).
    /// An identity or forgery refusal is also raised as a P0 alert (rate-limited).
    func logViolation(_ refusal: Refusal, peer: PeerInfo?, pid: Int32? = nil, stale: Bool = false) {
        if refusal.code.isSecurityViolation, !stale {
            logger.error(
                "bus peer refused: security violation",
                metadata: [
                    "peer": "\(peer?.description ?? "unidentified")", "code": "\(refusal.code.rawValue)",
                    "detail": "\(RefusalBudget.truncated(refusal.detail))", "pid": "\(pid.map(String.init) ?? "unknown")",
                ])
            alarm?.raise(refusal, endpoint: identity.description, peer: peer)
            return
        }
        logger.warning(
            "bus peer refused",
            metadata: [
                "peer": "\(peer?.description ?? "unidentified")", "code": "\(refusal.code.rawValue)",
                "detail": "\(RefusalBudget.truncated(refusal.detail))", "pid": "\(pid.map(String.init) ?? "unknown")",
            ])
    }

    func protocolErrorRecord(_ refusal: Refusal, peer: PeerInfo?) -> JournalRecord {
        BusJournal.event(
            .protocolError, endpoint: identity.description, peer: peer?.identity.description,
            code: refusal.code.rawValue, detail: RefusalBudget.truncated(refusal.detail), at: clock.now())
    }
}

/// Checks a delivered message before it is journaled as received; a refusal keeps it out of the
/// journal and away from the inbox (the broker's check of approval signatures).
public protocol BusMessageScreen: Sendable {
    /// Why `envelope` must not be taken, or nil to take it. Called once per message id, in order.
    func refusal(for envelope: Envelope, from peer: PeerInfo) -> Refusal?
}

/// What a connection's event loop hands to its task on ``BusWorkThread``, in order.
enum ConnectionWork: Sendable {
    /// A batched journal entry (connected, disconnected, a reply sent); failing to write it
    /// stops the endpoint.
    case journal(JournalRecord)
    /// A refusal's journal entry; failing to write it is logged.
    case journalProtocolError(JournalRecord)
    /// A message to journal and deliver; the task answers on the event loop when done.
    case deliver(Envelope, raw: [UInt8], peer: PeerInfo)
}

/// A FIFO from one connection's event loop to its task. Unlike an `AsyncStream` it does not
/// end when the consuming task is cancelled: only ``finish()`` ends it, after everything
/// queued before, so that a connection closed by a shutdown still journals what it received.
final class ConnectionWorkQueue: Sendable {
    private struct State {
        var items: [ConnectionWork] = []
        var head = 0
        var finished = false
        var waiter: CheckedContinuation<ConnectionWork?, Never>?

        mutating func take() -> ConnectionWork? {
            guard head < items.count else { return nil }
            let item = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64, head * 2 >= items.count {
                // Never drained for a while: drop what was taken so the array does not grow.
                items.removeFirst(head)
                head = 0
            }
            return item
        }
    }

    private let state = Mutex(State())

    /// Queues `work`; ignored once the queue is finished or abandoned.
    func yield(_ work: ConnectionWork) {
        let waiter = state.withLock { s -> CheckedContinuation<ConnectionWork?, Never>? in
            guard !s.finished else { return nil }
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.items.append(work)
            return nil
        }
        waiter?.resume(returning: work)
    }

    /// Ends the queue once what is queued has been taken.
    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<ConnectionWork?, Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Drops what is queued and ignores what comes: the consumer has stopped.
    func abandon() {
        state.withLock { s in
            s.finished = true
            s.items = []
            s.head = 0
        }
    }

    /// The next item, or nil once the queue is finished and empty.
    func next() async -> ConnectionWork? {
        if let ready = state.withLock({ s in s.take() }) { return ready }
        return await withCheckedContinuation { (c: CheckedContinuation<ConnectionWork?, Never>) in
            let ready = state.withLock { s -> ConnectionWork?? in
                if let item = s.take() { return .some(item) }
                if s.finished { return .some(nil) }
                s.waiter = c
                return .none
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}

/// One accepted connection's protocol, on its event loop: decodes each frame, feeds the
/// connection state machine and carries out its actions. Welcomes, pongs and refusals are
/// written from here; a message to deliver goes to the connection's task and the frames
/// after it wait, so that messages are delivered one at a time, in order, and every answer
/// (ack, reply, pong, refusal) goes out in the order of what it answers.
final class ServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Inbound {
        case frame(ByteBuffer)
        case frameError(FrameError)
    }

    /// Frames waiting behind a delivery above which the handler stops reading the socket, and
    /// below which it reads again.
    static let readHighWater = 64
    static let readLowWater = 16

    private let server: BusServer
    private var machine: ServerConnectionMachine
    private let work: ConnectionWorkQueue
    private var context: ChannelHandlerContext?
    private var peer: PeerInfo?
    private var waiting = CircularBuffer<Inbound>()
    private var delivering = false
    private var refused = false
    private var inactive = false
    private var finished = false
    private var holdingRead = false
    private var needsFlush = false
    private var helloTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    /// When a frame last arrived (or the hello completed); the idle timeout counts from here.
    private var lastInbound = NIODeadline.now()
    /// The kernel's uid and pid of the peer (`SO_PEERCRED`), for the refusal budget and the log.
    private var credentials: (uid: UInt32, pid: Int32)?
    /// Whether this connection counts towards the server's open connections.
    private var counted = false

    init(server: BusServer, machine: ServerConnectionMachine, work: ConnectionWorkQueue) {
        self.server = server
        self.machine = machine
        self.work = work
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { opened(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        closed()
        finishIfDone()
    }

    func channelActive(context: ChannelHandlerContext) {
        opened(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
        finishIfDone()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastInbound = .now()
        arrive(.frame(unwrapInboundIn(data)))
    }

    /// The connection is open: count it against the cap (closing it at once when over), learn
    /// the peer's credentials and start the hello timer.
    private func opened(_ context: ChannelHandlerContext) {
        guard !counted, !inactive else { return }
        counted = true
        if let provider = context.channel as? any SocketOptionProvider {
            // On the channel's own event loop this completes at once.
            provider.unsafeGetSocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
                .assumeIsolated().whenSuccess { [self] (cred: PeerCredentials) in credentials = (cred.uid, cred.pid) }
        }
        let open = server.openSockets.add(1, ordering: .relaxed).newValue
        guard open <= server.settings.maxConnections else {
            // Over the cap: nothing is read, nothing is sent, one counted refusal at most.
            refused = true
            server.connectionOverCap(credentials: credentials, eventLoop: context.eventLoop)
            context.close(promise: nil)
            return
        }
        armHelloTimer(context)
    }

    private func closed() {
        helloTimer?.cancel()
        idleTimer?.cancel()
        inactive = true
        if counted {
            counted = false
            server.openSockets.subtract(1, ordering: .relaxed)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? FrameError {
            arrive(.frameError(error))
            flushIfNeeded()
        } else if error is ByteToMessageDecoderError {
            // Bytes after a frame error: that error is already queued and will refuse the peer.
            return
        } else if !refused {
            server.logger.debug("bus connection ended", metadata: ["peer": "\(peer?.description ?? "-")", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func read(context: ChannelHandlerContext) {
        if waiting.count >= Self.readHighWater {
            holdingRead = true
        } else {
            context.read()
        }
    }

    /// The connection's task has journaled and delivered `envelope`: answer it, then go on
    /// with the frames that waited.
    func delivered(_ envelope: Envelope, _ outcome: BusServer.Delivered) {
        delivering = false
        let now = server.clock.now()
        if outcome.acknowledge, let ack = machine.acknowledge(envelope, duplicate: outcome.duplicate, now: now) {
            write(ack)
        }
        if let reply = outcome.reply, let peer, let out = machine.reply(reply, correlationID: envelope.id, now: now) {
            write(out)
            work.yield(.journal(BusJournal.message(.sent, out, peer: peer.identity.description)))
        }
        processWaiting()
        flushIfNeeded()
    }

    private func armHelloTimer(_ context: ChannelHandlerContext) {
        guard helloTimer == nil, !inactive else { return }
        let timeout = TimeAmount.nanoseconds(server.settings.helloTimeout.totalNanoseconds)
        helloTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard !refused else { return }
            perform(machine.helloTimedOut(now: server.clock.now()), frame: nil)
            flushIfNeeded()
        }
    }

    /// Closes an established connection that sent nothing for the idle timeout; a delivery
    /// still running counts as activity.
    private func armIdleTimer(_ context: ChannelHandlerContext, in delay: Duration) {
        guard !inactive, !refused else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay.totalNanoseconds)) { [self] in
            guard !inactive, !refused, let context = self.context else { return }
            let timeout = TimeAmount.nanoseconds(server.settings.idleTimeout.totalNanoseconds)
            let idle = NIODeadline.now() - lastInbound
            if delivering || idle < timeout {
                let rest = delivering ? timeout : timeout - idle
                armIdleTimer(context, in: .nanoseconds(max(rest.nanoseconds, 1_000_000)))
                return
            }
            refused = true
            waiting.removeAll()
            let name = peer?.identity.description
            server.logger.info(
                "bus peer idle, closed",
                metadata: [
                    "peer": "\(peer?.description ?? "-")",
                    "idle_timeout": "\(server.settings.idleTimeout)",
                ])
            work.yield(
                .journal(
                    BusJournal.event(
                        .idleClosed, endpoint: server.identity.description, peer: name, code: nil,
                        detail: "nothing received for \(server.settings.idleTimeout); closed",
                        at: server.clock.now())))
            context.close(promise: nil)
        }
    }

    private func arrive(_ inbound: Inbound) {
        guard !refused else { return }
        waiting.append(inbound)
        processWaiting()
    }

    /// Handles waiting frames in order until one is handed over for delivery.
    private func processWaiting() {
        while !delivering, !refused, let inbound = waiting.popFirst() {
            switch inbound {
            case .frame(let frame):
                BusMetrics.serverFramesIn.increment()
                let decoded = Result { () throws(EnvelopeError) in try HotEnvelopeCodec.decode(frame) }
                perform(machine.received(decoded, now: server.clock.now()), frame: frame)
            case .frameError(let error):
                perform(machine.frameError(error, now: server.clock.now()), frame: nil)
            }
        }
        if holdingRead, waiting.count < Self.readLowWater, let context {
            holdingRead = false
            context.read()
        }
        finishIfDone()
    }

    private func perform(_ actions: [ConnectionAction], frame: ByteBuffer?) {
        for action in actions {
            switch action {
            case .send(var envelope):
                if case .refused(let refusal) = envelope.message {
                    // Never echo a peer's oversized field back to it.
                    envelope.message = .refused(RefusalBudget.truncated(refusal))
                }
                write(envelope)
            case .established(let p):
                peer = p
                helloTimer?.cancel()
                lastInbound = .now()
                if let context { armIdleTimer(context, in: server.settings.idleTimeout) }
                server.established.add(1, ordering: .relaxed)
                work.yield(
                    .journal(
                        BusJournal.event(
                            .connected, endpoint: server.identity.description, peer: p.identity.description,
                            code: nil, detail: "\(p) connected", at: server.clock.now())))
                server.logger.info("bus peer connected", metadata: ["peer": "\(p)"])
            case .deliver(let envelope):
                guard let peer, let frame else { continue }
                delivering = true
                work.yield(.deliver(envelope, raw: Array(frame.readableBytesView), peer: peer))
            case .acknowledged:
                continue
            case .close(let refusal):
                BusMetrics.closed(refusal.code.rawValue)
                refused = true
                waiting.removeAll()
                if let context,
                    let record = server.refusalRecord(
                        refusal, peer: peer, credentials: credentials,
                        eventLoop: context.eventLoop)
                {
                    work.yield(.journalProtocolError(record))
                }
                flushIfNeeded()
                context?.close(promise: nil)
                return
            }
        }
    }

    /// Writes the envelope as one frame (header and payload in one buffer, no encoder handler).
    private func write(_ envelope: Envelope) {
        guard let context else { return }
        do {
            let frame = try HotEnvelopeCodec.frame(envelope, maximum: server.settings.maxFrameBytes, allocator: context.channel.allocator)
            context.write(wrapOutboundOut(frame), promise: nil)
            BusMetrics.serverFramesOut.increment()
            if case .refused(let refusal) = envelope.message { BusMetrics.refused(refusal.code.rawValue) }
            needsFlush = true
        } catch {
            server.logger.error(
                "bus message not sent: \(error)", metadata: ["peer": "\(peer?.description ?? "-")", "type": "\(envelope.type)"])
        }
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    /// Once the connection is closed and nothing waits or is being delivered: the
    /// disconnection goes to the journal and the connection's task ends.
    private func finishIfDone() {
        guard inactive, !finished, !delivering, waiting.isEmpty || refused else { return }
        finished = true
        if let peer {
            server.established.subtract(1, ordering: .relaxed)
            work.yield(
                .journal(
                    BusJournal.event(
                        .disconnected, endpoint: server.identity.description, peer: peer.identity.description,
                        code: nil, detail: "\(peer) disconnected", at: server.clock.now())))
            server.logger.info("bus peer disconnected", metadata: ["peer": "\(peer)"])
        }
        work.finish()
    }
}

/// The bus's metrics: frames in and out of servers and clients, refusals sent to peers by code,
/// connections closed on a protocol error by code. No-ops until the process bootstraps metrics.
enum BusMetrics {
    static let serverFramesIn = Counter(label: "ast_bus_frames_in_total", dimensions: [("side", "server")])
    static let serverFramesOut = Counter(label: "ast_bus_frames_out_total", dimensions: [("side", "server")])
    static let clientFramesIn = Counter(label: "ast_bus_frames_in_total", dimensions: [("side", "client")])
    static let clientFramesOut = Counter(label: "ast_bus_frames_out_total", dimensions: [("side", "client")])

    /// A refusal told to a peer (`RefusalCode` raw values: a closed set, never a peer's text).
    static func refused(_ code: String) { Counter(label: "ast_bus_refusals_total", dimensions: [("code", code)]).increment() }
    /// A connection closed on a protocol error.
    static func closed(_ code: String) {
        Counter(label: "ast_bus_connections_closed_total", dimensions: [("code", code)]).increment()
    }
}
