import ASTCore
import ASTTWS
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// What the API connection hands its owner, in the order it happened.
public enum TWSClientOutput: Sendable, Hashable {
    /// A decoded message from TWS.
    case message(TWSMessage)
    /// A change of the connection (started, disconnected, planned disconnect, an error's outcome, a refused request).
    case event(TWSConnectionEvent)
}

/// The SwiftNIO shell of ``TWSConnection``: opens the TCP socket, writes what the state machine
/// asks, feeds it the bytes that arrive (it frames and decodes them), the socket's close and the
/// time (from the injected clock, at the wake-ups it asks for). It makes no decision of its own:
/// reconnection with back-off, pacing and the nightly restart window are the core's.
public actor TWSClient {
    public nonisolated let host: String
    public nonisolated let port: Int
    /// Everything the connection delivers, in order; finished by ``stop()``.
    public nonisolated let outputs: AsyncStream<TWSClientOutput>
    private let continuation: AsyncStream<TWSClientOutput>.Continuation
    private var connection: TWSConnection
    private let clock: any WallClock
    private let logger: Logger
    private let group: any EventLoopGroup
    private var channel: (any Channel)?
    /// Bumped at every socket opened or closed: callbacks of an older socket are ignored.
    private var generation = 0
    private var wakeAt: Timestamp?
    private var wakeTimes: [Timestamp] = []
    private var wakeTask: Task<Void, Never>?
    private var stopped = false

    public init(
        host: String, port: Int, settings: TWSConnectionSettings, clock: any WallClock, logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.host = host
        self.port = port
        self.connection = TWSConnection(settings: settings)
        self.clock = clock
        self.logger = logger
        self.group = group
        (outputs, continuation) = AsyncStream.makeStream(of: TWSClientOutput.self, bufferingPolicy: .unbounded)
    }

    /// Where the connection stands.
    public var phase: TWSConnection.Phase { connection.phase }
    /// The API session once started.
    public var session: TWSSession? { connection.session }
    /// False from a 1100 until a 1101/1102.
    public var ibReachable: Bool { connection.ibReachable }

    /// Starts connecting; reconnects on its own after any disconnect until ``stop()``.
    public func start() {
        stopped = false
        perform(connection.start(now: clock.now()))
    }

    /// Sends a request once the API is started (paced); a refusal comes back as an event.
    public func send(_ request: TWSRequest) {
        perform(connection.send(request, now: clock.now()))
    }

    /// Closes the connection for good and finishes ``outputs``.
    public func stop() {
        stopped = true
        perform(connection.stop(now: clock.now()))
        wakeTask?.cancel()
        wakeTask = nil
        if let c = channel { c.close(promise: nil) }
        channel = nil
        continuation.finish()
    }

    // MARK: - Carrying out the core's actions

    private func perform(_ actions: [TWSConnection.Action]) {
        for action in actions {
            switch action {
            case .openSocket: open()
            case .write(let bytes):
                guard let c = channel else { continue }
                c.writeAndFlush(c.allocator.buffer(bytes: bytes), promise: nil)
            case .closeSocket:
                generation += 1
                channel?.close(promise: nil)
                channel = nil
            case .wake(let at): schedule(at)
            case .deliver(let m): continuation.yield(.message(m))
            case .event(let e):
                logEvent(e)
                continuation.yield(.event(e))
            }
        }
    }

    private func logEvent(_ e: TWSConnectionEvent) {
        switch e {
        case .started(let s):
            logger.notice(
                "TWS API started", metadata: ["server_version": "\(s.serverVersion)", "accounts": "\(s.accounts.joined(separator: ","))"])
        case .disconnected(let reason, let at):
            logger.warning("TWS disconnected: \(reason)", metadata: ["reconnect_at": "\(at.map { "\($0)" } ?? "-")"])
        case .plannedDisconnect(let until): logger.notice("TWS planned disconnect (maintenance window) until \(until)")
        case .error(let m, let outcome):
            if outcome.isAlarm {
                logger.warning("TWS error \(m.code) for id \(m.id): \(m.message.prefix(200))")
            } else {
                logger.info("TWS notice \(m.code): \(m.message.prefix(200))")
            }
        case .refused(_, let why): logger.error("TWS request not sent: \(why)")
        }
    }

    private func open() {
        generation += 1
        let gen = generation
        let host = host
        let port = port
        let (inbound, sink) = AsyncStream.makeStream(of: Inbound.self, bufferingPolicy: .unbounded)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connection.settings.connectTimeout.timeAmount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(TWSInboundHandler(sink: sink)) }
            }
        Task {
            do {
                let channel = try await bootstrap.connect(host: host, port: port).get()
                await self.opened(gen, channel)
                for await event in inbound { await self.inbound(gen, event) }
            } catch {
                sink.finish()
                await self.failed(gen, "\(host):\(port): \(error)")
            }
        }
    }

    private func opened(_ gen: Int, _ channel: any Channel) {
        guard gen == generation, !stopped else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
        perform(connection.socketOpened(now: clock.now()))
    }

    private func failed(_ gen: Int, _ why: String) {
        guard gen == generation else { return }
        perform(connection.socketFailed(now: clock.now(), reason: why))
    }

    private func inbound(_ gen: Int, _ event: Inbound) {
        guard gen == generation else { return }
        switch event {
        case .bytes(let b): perform(connection.received(b, now: clock.now()))
        case .closed:
            channel = nil
            generation += 1
            perform(connection.socketClosed(now: clock.now()))
        }
    }

    /// One timer for the earliest of the wake-ups the core asked for; the later ones are kept
    /// (a phase's deadline must fire even when a paced send woke the core in between).
    private func schedule(_ at: Timestamp) {
        if !wakeTimes.contains(at) {
            wakeTimes.append(at)
            wakeTimes.sort()
            if wakeTimes.count > 64 { wakeTimes.removeLast(wakeTimes.count - 64) }
        }
        armTimer()
    }

    private func armTimer() {
        guard let first = wakeTimes.first else { return }
        if let w = wakeAt, w <= first, wakeTask != nil { return }
        wakeTask?.cancel()
        wakeAt = first
        let delay = max(first.duration(since: clock.now()), .zero)
        wakeTask = Task {
            try? await Task.sleep(for: delay + .milliseconds(1))
            guard !Task.isCancelled else { return }
            await self.woke()
        }
    }

    private func woke() {
        wakeTask = nil
        wakeAt = nil
        guard !stopped else { return }
        let now = clock.now()
        wakeTimes.removeAll { $0 <= now }
        perform(connection.tick(now: now))
        armTimer()
    }
}

/// What one socket delivers, in order.
enum Inbound: Sendable {
    case bytes([UInt8])
    case closed
}

/// Hands the socket's bytes and its close to the client, in order (one stream per socket).
final class TWSInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let sink: AsyncStream<Inbound>.Continuation

    init(sink: AsyncStream<Inbound>.Continuation) { self.sink = sink }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let bytes = buffer.readBytes(length: buffer.readableBytes) { sink.yield(.bytes(bytes)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        sink.yield(.closed)
        sink.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (s, a) = components
        return .nanoseconds(s * 1_000_000_000 + a / 1_000_000_000)
    }
}
