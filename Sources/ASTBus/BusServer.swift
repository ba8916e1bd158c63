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

/// What a process does with the messages its endpoint receives.
public protocol BusInbox: Sendable {
    /// Handles one delivered message and returns an optional reply. Messages of one
    /// connection arrive one at a time, in order. An acknowledged message reaches this
    /// method once, after it is journaled; it is acknowledged when this returns.
    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message?
}

/// A listening bus endpoint: admits peers by hello, uid and role, journals what arrives,
/// acknowledges must-not-lose messages once journaled and drops their re-sends.
///
/// A bad peer (garbage, oversized frames, a wrong version or role) is refused and
/// disconnected with a logged and journaled reason; other connections carry on.
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

    public init(identity: ProcessIdentity, policy: EndpointPolicy, settings: BusSettings, journal: Journal,
                clock: any WallClock, logger: Logger, inbox: any BusInbox) throws {
        self.identity = identity
        self.policy = policy
        self.settings = settings
        self.journal = journal
        self.clock = clock
        self.logger = logger
        self.inbox = inbox
        self.seen = Mutex(try Self.restoreSeen(journal))
    }

    /// Connections that completed their hello and are open now.
    public var openConnections: Int { established.load(ordering: .relaxed) }

    /// Ids of acknowledged messages already journaled: a re-send of one is acknowledged again
    /// but not delivered twice, also across restarts.
    static func restoreSeen(_ journal: Journal) throws -> Set<String> {
        var ids = Set<String>()
        try journal.scan(fromSeq: 1) { entry in
            if entry.record.kind == .received, let id = entry.record.messageID,
               MessageCatalog.delivery(of: MessageType(rawValue: entry.record.type)) == .acknowledged {
                ids.insert(id)
            }
            return true
        }
        return ids
    }

    /// Serves connections on an already listening socket (from `LISTEN_FDS` or
    /// ``UnixSocket/listen(path:backlog:mode:)``) until the task is cancelled.
    public func run(listeningFD fd: Int32, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let maxFrame = settings.maxFrameBytes
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .bind(fd) { channel in
                // NIO has no typed SO_PEERCRED: read the kernel's credentials from the descriptor.
                let credentials: EventLoopFuture<PeerCredentials?> = if let provider = channel as? any SocketOptionProvider {
                    provider.unsafeGetSocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
                        .map { Optional($0) }.recover { _ in nil }
                } else {
                    channel.eventLoop.makeSucceededFuture(nil)
                }
                return credentials.flatMapThrowing { cred in
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumPayload: maxFrame)))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder(maximumPayload: maxFrame)))
                    let async = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    return (async, cred?.uid)
                }
            }
        logger.info("bus endpoint \(identity) listening", metadata: ["fd": "\(fd)"])
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await (connection, peerUID) in inbound {
                    group.addTask { try await self.serve(connection, peerUID: peerUID) }
                }
            }
        }
    }

    /// One connection: hello, then messages in order until the peer leaves or misbehaves.
    func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, peerUID: UInt32?) async throws {
        let number = connectionCounter.add(1, ordering: .relaxed).newValue
        let machine = Locked(ServerConnectionMachine(local: identity, localPID: getpid(), policy: policy, ownUID: getuid(),
                                                     peerUID: peerUID, maxFrameBytes: settings.maxFrameBytes, connection: number))
        let channel = connection.channel
        let helloTimeout = settings.helloTimeout
        let timer = Task {
            try await Task.sleep(for: helloTimeout)
            let actions = machine.withLock { $0.helloTimedOut(now: clock.now()) }
            for case .send(let env) in actions { try? await channel.writeAndFlush(ByteBuffer(bytes: EnvelopeCodec.encode(env))) }
            for case .close(let r) in actions { self.recordViolation(r, peer: nil); try? await channel.close() }
        }
        defer { timer.cancel() }
        var peer: PeerInfo?
        do {
            try await connection.executeThenClose { inbound, outbound in
                do {
                    for try await frame in inbound {
                        let payload = Array(frame.readableBytesView)
                        let decoded = Result { () throws(EnvelopeError) in try EnvelopeCodec.decode(payload) }
                        let actions = machine.withLock { $0.received(decoded, now: clock.now()) }
                        if try await perform(actions, raw: payload, peer: &peer, machine: machine, outbound: outbound) { return }
                    }
                } catch let error as FrameError {
                    let actions = machine.withLock { $0.frameError(error, now: clock.now()) }
                    _ = try await perform(actions, raw: nil, peer: &peer, machine: machine, outbound: outbound)
                }
            }
        } catch let error as JournalError {
            // Our own journal failing is a broken invariant: stop the endpoint, let the process restart.
            throw error
        } catch {
            logger.debug("bus connection ended", metadata: ["peer": "\(peer?.description ?? "-")", "error": "\(error)"])
        }
        if let p = peer {
            established.subtract(1, ordering: .relaxed)
            try journal.append(BusJournal.event(.disconnected, endpoint: identity.description, peer: p.identity.description,
                                                code: nil, detail: "\(p) disconnected", at: clock.now()), durability: .batched)
            logger.info("bus peer disconnected", metadata: ["peer": "\(p)"])
        }
    }

    /// Carries out a machine's actions; returns true when the connection must close.
    func perform(_ actions: [ConnectionAction], raw: [UInt8]?, peer: inout PeerInfo?, machine: Locked<ServerConnectionMachine>,
                 outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> Bool {
        for action in actions {
            switch action {
            case .send(let env):
                try await outbound.write(ByteBuffer(bytes: EnvelopeCodec.encode(env)))
            case .established(let p):
                peer = p
                established.add(1, ordering: .relaxed)
                try journal.append(BusJournal.event(.connected, endpoint: identity.description, peer: p.identity.description,
                                                    code: nil, detail: "\(p) connected", at: clock.now()), durability: .batched)
                logger.info("bus peer connected", metadata: ["peer": "\(p)"])
            case .deliver(let env):
                guard let p = peer else { continue }
                try await deliver(env, raw: raw, from: p, machine: machine, outbound: outbound)
            case .acknowledged:
                continue
            case .close(let refusal):
                recordViolation(refusal, peer: peer)
                return true
            }
        }
        return false
    }

    func deliver(_ env: Envelope, raw: [UInt8]?, from peer: PeerInfo, machine: Locked<ServerConnectionMachine>,
                 outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        let peerName = peer.identity.description
        let reply: Message?
        if env.message.delivery == .acknowledged {
            let fresh = seen.withLock { $0.insert(env.id).inserted }
            if fresh {
                do {
                    try journal.append(BusJournal.message(.received, env, peer: peerName, raw: raw), durability: .durable)
                } catch {
                    seen.withLock { _ = $0.remove(env.id) }
                    throw error
                }
                reply = await inbox.receive(env, from: peer)
            } else {
                logger.debug("duplicate message acknowledged again", metadata: ["id": "\(env.id)", "peer": "\(peerName)"])
                reply = nil
            }
            if let ack = machine.withLock({ $0.acknowledge(env, duplicate: !fresh, now: clock.now()) }) {
                try await outbound.write(ByteBuffer(bytes: EnvelopeCodec.encode(ack)))
            }
        } else {
            try journal.append(BusJournal.message(.received, env, peer: peerName, raw: raw), durability: .batched)
            reply = await inbox.receive(env, from: peer)
        }
        if let reply, let out = machine.withLock({ $0.reply(reply, correlationID: env.id, now: clock.now()) }) {
            try await outbound.write(ByteBuffer(bytes: EnvelopeCodec.encode(out)))
            try journal.append(BusJournal.message(.sent, out, peer: peerName), durability: .batched)
        }
    }

    func recordViolation(_ refusal: Refusal, peer: PeerInfo?) {
        logger.warning("bus peer refused", metadata: [
            "peer": "\(peer?.description ?? "unidentified")", "code": "\(refusal.code.rawValue)", "detail": "\(refusal.detail)",
        ])
        do {
            try journal.append(BusJournal.event(.protocolError, endpoint: identity.description, peer: peer?.identity.description,
                                                code: refusal.code.rawValue, detail: refusal.detail, at: clock.now()), durability: .batched)
        } catch {
            logger.error("could not journal a protocol error", metadata: ["error": "\(error)"])
        }
    }
}

/// A lock-protected value that escaping closures and tasks can share.
final class Locked<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout sending Value) throws -> sending R) rethrows -> sending R { try mutex.withLock(body) }
}
