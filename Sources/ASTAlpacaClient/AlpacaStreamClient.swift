import ASTAlpaca
import ASTCore
import ASTHTTPS
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// What the stream tells the broker process.
public enum AlpacaStreamEvent: Sendable, Equatable {
    /// Listening: close the gap (list orders and fills since the last event journaled) before
    /// leaving HALTED.
    case up
    /// Down: events may be lost from now on; HALTED until up again and reconciled.
    case down(String)
    /// A trade update to journal and apply.
    case update(AlpacaTradeUpdate)
}

/// The `trade_updates` WebSocket (NIOWebSocket over NIOSSL): carries out the ASTAlpaca stream
/// core's actions (open, authenticate with the credentials filled in here, listen, close,
/// reconnect with its back-off) and hands its events to the caller. The secret is written into
/// the one frame that needs it and nowhere else.
public final class AlpacaStreamClient: Sendable {
    enum Input: Sendable {
        case opened(any Channel)
        case message([UInt8])
        /// A pong or a ping from the server (keep-alive).
        case control
        case closed(String)
        case tick
    }

    let settings: AlpacaSettings
    let credentials: AlpacaCredentials
    let clock: any WallClock
    let tls: NIOSSLContext
    let streamSettings: AlpacaStreamSettings

    public init(
        settings: AlpacaSettings, credentials: AlpacaCredentials, clock: any WallClock, liveAllowed: Bool,
        streamSettings: AlpacaStreamSettings = AlpacaStreamSettings()
    ) throws(AlpacaSetupError) {
        try settings.validate(liveAllowed: liveAllowed)
        self.settings = settings
        self.credentials = credentials
        self.clock = clock
        self.streamSettings = streamSettings
        do {
            tls = try NIOSSLContext(configuration: try HTTPSClientSetup.tls(caFile: settings.caFile, caFileKey: "broker.alpaca.ca_file"))
        } catch let error as HTTPSSetupError {
            throw AlpacaSetupError("TLS for the Alpaca stream: \(error.description)")
        } catch {
            throw AlpacaSetupError("TLS for the Alpaca stream: \(error)")
        }
    }

    /// Runs until the task is cancelled: connects, keeps the stream up, reports each event to `handle`.
    public func run(tickEvery: Duration = .milliseconds(200), _ handle: @Sendable (AlpacaStreamEvent) async -> Void) async {
        let (inputs, sink) = AsyncStream.makeStream(of: (Int, Input).self)
        var core = AlpacaStream(settings: streamSettings)
        var generation = 0
        var channel: (any Channel)? = nil
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: tickEvery)
                sink.yield((-1, .tick))
            }
        }
        defer {
            ticker.cancel()
            channel?.close(promise: nil)
        }
        var actions = core.start(now: clock.now())
        var queue = inputs.makeAsyncIterator()
        while !Task.isCancelled {
            for action in actions {
                switch action {
                case .openSocket:
                    channel?.close(promise: nil)
                    channel = nil
                    generation += 1
                    connect(generation: generation, sink: sink)
                case .sendAuthenticate:
                    let text = credentials.keyID.withValue { key in
                        credentials.secretKey.withValue { AlpacaStreamMessages.authenticate(keyID: key, secretKey: $0) }
                    }
                    write(text, to: channel)
                case .send(let text): write(text, to: channel)
                case .sendPing:
                    channel?.writeAndFlush(
                        WebSocketFrame(fin: true, opcode: .ping, maskKey: .random(), data: ByteBuffer(string: "ast")), promise: nil)
                case .closeSocket:
                    channel?.close(promise: nil)
                    channel = nil
                case .streamUp: await handle(.up)
                case .streamDown(let reason): await handle(.down(reason))
                case .deliver(let update): await handle(.update(update))
                case .ignored: break
                }
            }
            guard let (tag, input) = await queue.next() else { return }
            let now = clock.now()
            switch input {
            case .tick: actions = core.tick(now: now)
            case .opened(let c):
                guard tag == generation else {
                    c.close(promise: nil)
                    actions = []
                    continue
                }
                channel = c
                actions = core.socketOpened(now: now)
            case .message(let bytes): actions = tag == generation ? core.received(bytes, now: now) : []
            case .control:
                if tag == generation { core.heard(now: now) }
                actions = []
            case .closed(let why):
                guard tag == generation else {
                    actions = []
                    continue
                }
                channel = nil
                actions = core.socketClosed(reason: why, now: now)
            }
        }
    }

    func write(_ text: String, to channel: (any Channel)?) {
        guard let channel else { return }
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: text))
        channel.writeAndFlush(frame, promise: nil)
    }

    func connect(generation: Int, sink: AsyncStream<(Int, Input)>.Continuation) {
        guard let url = URL(string: settings.baseURL), let host = url.host else {
            sink.yield((generation, .closed("no host in \(settings.baseURL)")))
            return
        }
        let port = url.port ?? 443
        let tls = self.tls
        let maxFrame = streamSettings.maxMessageBytes
        let isIP = host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: isIP ? nil : host))
                    let request = AlpacaUpgradeRequestHandler(host: host, sink: sink, generation: generation)
                    let upgrader = NIOWebSocketClientUpgrader(
                        maxFrameSize: maxFrame,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    AlpacaFrameHandler(sink: sink, generation: generation, maxMessage: maxFrame))
                            }
                        })
                    let bound = NIOLoopBound(request, eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        withClientUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in context.pipeline.syncOperations.removeHandler(bound.value, promise: nil) }
                        ))
                    try channel.pipeline.syncOperations.addHandler(request)
                }
            }
        bootstrap.connect(host: host, port: port).whenFailure { error in
            sink.yield((generation, .closed("cannot connect: \(String(String(describing: error).prefix(160)))")))
        }
    }
}

/// Sends the upgrade request (`GET /stream`) once connected; an answer that is not an upgrade
/// (a 429 for a second session, a 401) closes the connection.
final class AlpacaUpgradeRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    let host: String
    let sink: AsyncStream<(Int, AlpacaStreamClient.Input)>.Continuation
    let generation: Int
    var reported = false

    init(host: String, sink: AsyncStream<(Int, AlpacaStreamClient.Input)>.Continuation, generation: Int) {
        self.host = host
        self.sink = sink
        self.generation = generation
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "Content-Length", value: "0")
        context.write(
            wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/stream", headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data), !reported {
            reported = true
            sink.yield((generation, .closed("the stream handshake was answered \(head.status.code) instead of an upgrade")))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !reported {
            reported = true
            sink.yield((generation, .closed("closed during the stream handshake")))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !reported {
            reported = true
            sink.yield((generation, .closed("stream handshake: \(String(String(describing: error).prefix(160)))")))
        }
        context.close(promise: nil)
    }
}

/// The upgraded stream: whole messages (text or binary, fragments joined up to a bound) to the
/// core, pings answered, a close reported once.
final class AlpacaFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame
    let sink: AsyncStream<(Int, AlpacaStreamClient.Input)>.Continuation
    let generation: Int
    let maxMessage: Int
    var partial: [UInt8] = []
    var closed = false

    init(sink: AsyncStream<(Int, AlpacaStreamClient.Input)>.Continuation, generation: Int, maxMessage: Int) {
        self.sink = sink
        self.generation = generation
        self.maxMessage = maxMessage
    }

    func handlerAdded(context: ChannelHandlerContext) {
        sink.yield((generation, .opened(context.channel)))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            var data = frame.unmaskedData
            partial += data.readBytes(length: data.readableBytes) ?? []
            if partial.count > maxMessage {
                report("a message over \(maxMessage) bytes")
                context.close(promise: nil)
                return
            }
            if frame.fin {
                sink.yield((generation, .message(partial)))
                partial = []
            }
        case .ping:
            var data = frame.unmaskedData
            let pong = WebSocketFrame(
                fin: true, opcode: .pong, maskKey: .random(), data: data.readSlice(length: data.readableBytes) ?? ByteBuffer())
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            sink.yield((generation, .control))
        case .pong:
            sink.yield((generation, .control))
        case .connectionClose:
            report("the server closed the stream")
            context.close(promise: nil)
        default:
            break
        }
    }

    func report(_ why: String) {
        guard !closed else { return }
        closed = true
        sink.yield((generation, .closed(why)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        report("connection lost")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        report("stream error: \(String(String(describing: error).prefix(160)))")
        context.close(promise: nil)
    }
}
