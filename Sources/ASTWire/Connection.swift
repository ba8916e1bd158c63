import ASTCore

/// The peer at the other end of an established connection. On the accepting side `pid` and
/// `uid` are the kernel's (`SO_PEERCRED`), never the hello's.
public struct PeerInfo: Sendable, Equatable, CustomStringConvertible {
    public var identity: ProcessIdentity
    public var pid: Int32
    /// The uid the kernel reported (`SO_PEERCRED`); nil on the client side.
    public var uid: UInt32?

    public init(identity: ProcessIdentity, pid: Int32, uid: UInt32?) {
        self.identity = identity
        self.pid = pid
        self.uid = uid
    }

    public var description: String { "\(identity) (pid \(pid)\(uid.map { ", uid \($0)" } ?? ""))" }
}

/// What a connection shell must do next, as decided by a connection state machine.
public enum ConnectionAction: Sendable, Equatable {
    /// Write this envelope.
    case send(Envelope)
    /// The handshake completed.
    case established(PeerInfo)
    /// Hand a valid, permitted, in-order message to the process.
    case deliver(Envelope)
    /// The peer acknowledged an acknowledged-delivery message (client side).
    case acknowledged(Ack)
    /// Close the connection; `refusal` says why (already sent to the peer when we refused).
    case close(Refusal)
}

/// Builds outbound envelopes for one connection: per-connection sequence numbers and ids.
struct OutboundSequencer: Sendable {
    let local: ProcessIdentity
    let connection: UInt64
    var seq: UInt64 = 0

    mutating func envelope(_ message: Message, id: String? = nil, correlationID: String?, now: Timestamp) -> Envelope {
        seq += 1
        return Envelope(
            sender: local, seq: seq, id: id ?? "\(local)/c\(connection).\(seq)",
            correlationID: correlationID, timestamp: now, message: message)
    }
}

/// The accepting side of one bus connection: hello and admission, then in-order,
/// permitted messages. A pure state machine; the shell carries out its actions.
public struct ServerConnectionMachine: Sendable {
    public enum State: Sendable, Equatable {
        case awaitingHello
        case established(PeerInfo)
        case closed(Refusal)
    }

    public private(set) var state: State = .awaitingHello
    let policy: EndpointPolicy
    let ownUID: UInt32
    let peerUID: UInt32?
    let peerPID: Int32?
    let identityCheck: PeerIdentityCheck
    let localPID: Int32
    let maxFrameBytes: Int
    var out: OutboundSequencer
    var expectedSeq: UInt64 = 1

    /// - Parameters:
    ///   - connection: a number unique among this process's connections, used in reply ids.
    ///   - peerUID: the uid from `SO_PEERCRED`, nil when the kernel did not say.
    ///   - peerPID: the pid from `SO_PEERCRED`, nil when the kernel did not say.
    ///   - identityCheck: astd's peer table, or `.uidOnly` without one.
    public init(
        local: ProcessIdentity, localPID: Int32, policy: EndpointPolicy, ownUID: UInt32, peerUID: UInt32?, peerPID: Int32? = nil,
        identityCheck: PeerIdentityCheck = .uidOnly, maxFrameBytes: Int, connection: UInt64
    ) {
        self.policy = policy
        self.ownUID = ownUID
        self.peerUID = peerUID
        self.peerPID = peerPID
        self.identityCheck = identityCheck
        self.localPID = localPID
        self.maxFrameBytes = maxFrameBytes
        self.out = OutboundSequencer(local: local, connection: connection)
    }

    public var peer: PeerInfo? {
        if case .established(let p) = state { return p }
        return nil
    }

    /// A frame payload arrived and was decoded (or failed to).
    public mutating func received(_ decoded: Result<Envelope, EnvelopeError>, now: Timestamp) -> [ConnectionAction] {
        switch state {
        case .closed:
            return []
        case .awaitingHello, .established:
            break
        }
        let envelope: Envelope
        switch decoded {
        case .failure(let e):
            return refuse(Refusal(code: e.refusalCode, detail: e.description), now: now)
        case .success(let env):
            envelope = env
        }
        guard envelope.seq == expectedSeq else {
            return refuse(Refusal(code: .sequenceError, detail: "expected seq \(expectedSeq), got \(envelope.seq)"), now: now)
        }
        expectedSeq += 1
        switch state {
        case .awaitingHello:
            guard case .hello(let hello) = envelope.message else {
                return refuse(Refusal(code: .helloExpected, detail: "first message must be hello, got \(envelope.type)"), now: now)
            }
            if let refusal = policy.admit(
                hello, sender: envelope.sender, peerUID: peerUID, peerPID: peerPID, ownUID: ownUID,
                identity: identityCheck)
            {
                return refuse(refusal, now: now)
            }
            // The kernel's pid; the hello's is only what the peer says about itself.
            let peer = PeerInfo(identity: envelope.sender, pid: peerPID ?? hello.pid, uid: peerUID)
            state = .established(peer)
            let welcome = Welcome(role: out.local.role, instance: out.local.instance, pid: localPID, maxFrameBytes: maxFrameBytes)
            return [.established(peer), .send(out.envelope(.welcome(welcome), correlationID: envelope.id, now: now))]
        case .established(let peer):
            if case .hello = envelope.message {
                return refuse(Refusal(code: .helloExpected, detail: "second hello from \(peer.identity)"), now: now)
            }
            guard envelope.sender == peer.identity else {
                return refuse(
                    Refusal(code: .helloMismatch, detail: "message from \(envelope.sender) on the connection of \(peer.identity)"), now: now
                )
            }
            if case .ping(let ping) = envelope.message {
                return [.send(out.envelope(.pong(Pong(nonce: ping.nonce)), correlationID: envelope.id, now: now))]
            }
            guard policy.allows(envelope.type, from: peer.identity.role) else {
                return refuse(
                    Refusal(
                        code: .messageTypeNotAllowed, detail: "role \(peer.identity.role) may not send \(envelope.type) to \(policy.name)"),
                    now: now)
            }
            return [.deliver(envelope)]
        case .closed:
            return []
        }
    }

    /// The frame layer failed (oversized, empty or truncated frame).
    public mutating func frameError(_ error: FrameError, now: Timestamp) -> [ConnectionAction] {
        let code: RefusalCode = if case .oversized = error { .oversizedFrame } else { .malformedFrame }
        return refuse(Refusal(code: code, detail: error.description), now: now)
    }

    /// The hello did not arrive within the configured time.
    public mutating func helloTimedOut(now: Timestamp) -> [ConnectionAction] {
        guard case .awaitingHello = state else { return [] }
        return refuse(Refusal(code: .helloTimeout, detail: "no hello within the hello timeout"), now: now)
    }

    /// An acknowledgement for a delivered message, once the shell has journaled it.
    public mutating func acknowledge(_ envelope: Envelope, duplicate: Bool, now: Timestamp) -> Envelope? {
        reply(.ack(Ack(id: envelope.id, duplicate: duplicate)), correlationID: envelope.id, now: now)
    }

    /// A reply (best effort) on this connection; nil once closed.
    public mutating func reply(_ message: Message, correlationID: String?, now: Timestamp) -> Envelope? {
        guard case .established = state else { return nil }
        return out.envelope(message, correlationID: correlationID, now: now)
    }

    mutating func refuse(_ refusal: Refusal, now: Timestamp) -> [ConnectionAction] {
        state = .closed(refusal)
        return [.send(out.envelope(.refused(refusal), correlationID: nil, now: now)), .close(refusal)]
    }
}

/// The connecting side of one bus connection: hello, wait for welcome, then send messages
/// and receive acknowledgements and replies. A pure state machine.
public struct ClientConnectionMachine: Sendable {
    public enum State: Sendable, Equatable {
        case awaitingWelcome
        case established(PeerInfo)
        case closed(Refusal)
    }

    public private(set) var state: State = .awaitingWelcome
    var out: OutboundSequencer
    var expectedSeq: UInt64 = 1
    let expectedPeer: Role?

    /// - Parameter expectedPeer: the role the client means to reach; a welcome from another role is refused.
    public init(local: ProcessIdentity, connection: UInt64, expectedPeer: Role?) {
        self.out = OutboundSequencer(local: local, connection: connection)
        self.expectedPeer = expectedPeer
    }

    public var isEstablished: Bool {
        if case .established = state { return true }
        return false
    }

    /// The hello to send as soon as the socket connects.
    public mutating func hello(pid: Int32, now: Timestamp) -> Envelope {
        out.envelope(.hello(Hello(role: out.local.role, instance: out.local.instance, pid: pid)), correlationID: nil, now: now)
    }

    /// An envelope for `message` with the next sequence number. Acknowledged messages carry
    /// their stable outbox id so that a re-send is recognised.
    public mutating func envelope(_ message: Message, id: String? = nil, correlationID: String?, now: Timestamp) -> Envelope {
        out.envelope(message, id: id, correlationID: correlationID, now: now)
    }

    public mutating func received(_ decoded: Result<Envelope, EnvelopeError>, now: Timestamp) -> [ConnectionAction] {
        if case .closed = state { return [] }
        let envelope: Envelope
        switch decoded {
        case .failure(let e): return close(Refusal(code: e.refusalCode, detail: e.description), tellPeer: true, now: now)
        case .success(let env): envelope = env
        }
        guard envelope.seq == expectedSeq else {
            return close(
                Refusal(code: .sequenceError, detail: "expected seq \(expectedSeq), got \(envelope.seq)"), tellPeer: true, now: now)
        }
        expectedSeq += 1
        if case .refused(let refusal) = envelope.message {
            // A refusal that answers one message (it names it as correlation, like the broker's
            // refusal of an approval) is a reply; one that names nothing ends the connection.
            if case .established = state, envelope.correlationID != nil { return [.deliver(envelope)] }
            return close(refusal, tellPeer: false, now: now)
        }
        switch state {
        case .awaitingWelcome:
            guard case .welcome(let w) = envelope.message else {
                return close(Refusal(code: .helloExpected, detail: "expected welcome, got \(envelope.type)"), tellPeer: true, now: now)
            }
            if let want = expectedPeer, w.role != want {
                return close(
                    Refusal(code: .roleNotAllowed, detail: "connected to \(w.role)@\(w.instance), expected a \(want)"), tellPeer: true,
                    now: now)
            }
            let peer = PeerInfo(identity: ProcessIdentity(role: w.role, instance: w.instance), pid: w.pid, uid: nil)
            state = .established(peer)
            return [.established(peer)]
        case .established:
            if case .ack(let ack) = envelope.message { return [.acknowledged(ack)] }
            if MessageCatalog.control.contains(envelope.type) {
                return close(
                    Refusal(code: .messageTypeNotAllowed, detail: "unexpected \(envelope.type) after welcome"), tellPeer: true, now: now)
            }
            return [.deliver(envelope)]
        case .closed:
            return []
        }
    }

    public mutating func frameError(_ error: FrameError, now: Timestamp) -> [ConnectionAction] {
        let code: RefusalCode = if case .oversized = error { .oversizedFrame } else { .malformedFrame }
        return close(Refusal(code: code, detail: error.description), tellPeer: true, now: now)
    }

    mutating func close(_ refusal: Refusal, tellPeer: Bool, now: Timestamp) -> [ConnectionAction] {
        state = .closed(refusal)
        return tellPeer ? [.send(out.envelope(.refused(refusal), correlationID: nil, now: now)), .close(refusal)] : [.close(refusal)]
    }
}
