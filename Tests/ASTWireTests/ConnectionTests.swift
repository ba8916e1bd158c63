import ASTCore
import Testing

@testable import ASTWire

@Suite struct ConnectionMachineTests {
    static let broker = ProcessIdentity(role: .broker, instance: "paper")
    static let risk = ProcessIdentity(role: .risk, instance: "main")
    static let policy = EndpointPolicy(name: "broker@paper", allowedUIDs: [1000], permissions: [.risk: [.probe], .control: []])
    let now = Timestamp(nanoseconds: 1)

    func server(peerUID: UInt32? = 0) -> ServerConnectionMachine {
        ServerConnectionMachine(
            local: Self.broker, localPID: 10, policy: Self.policy, ownUID: 0, peerUID: peerUID, maxFrameBytes: 1024, connection: 1)
    }

    func env(_ m: Message, seq: UInt64, from: ProcessIdentity = risk, id: String? = nil) -> Result<Envelope, EnvelopeError> {
        .success(Envelope(sender: from, seq: seq, id: id ?? "m\(seq)", timestamp: now, message: m))
    }

    func hello(_ who: ProcessIdentity = risk, version: Int = 1) -> Message {
        .hello(Hello(role: who.role, instance: who.instance, protocolVersion: version, pid: 99))
    }

    func refusal(_ actions: [ConnectionAction]) -> RefusalCode? {
        for case .close(let r) in actions { return r.code }
        return nil
    }

    @Test func admittedHelloIsWelcomedAndMessagesAreDelivered() {
        var s = server()
        let a = s.received(env(hello(), seq: 1), now: now)
        #expect(a.first == .established(PeerInfo(identity: Self.risk, pid: 99, uid: 0)))
        guard case .send(let w) = a.last, case .welcome(let welcome) = w.message else {
            Issue.record("no welcome")
            return
        }
        #expect(welcome.role == .broker && w.seq == 1 && w.correlationID == "m1")
        let d = s.received(env(.probe(Probe(counter: 1, text: "x")), seq: 2), now: now)
        guard case .deliver(let e) = d.first else {
            Issue.record("not delivered")
            return
        }
        #expect(e.id == "m2")
        let ack = s.acknowledge(e, duplicate: false, now: now)
        #expect(ack?.message == .ack(Ack(id: "m2", duplicate: false)))
        #expect(ack?.seq == 2)
    }

    @Test func pingIsAnsweredByTheMachine() {
        var s = server()
        _ = s.received(env(hello(), seq: 1), now: now)
        let a = s.received(env(.ping(Ping(nonce: 7)), seq: 2), now: now)
        guard case .send(let p) = a.first else {
            Issue.record("no pong")
            return
        }
        #expect(p.message == .pong(Pong(nonce: 7)))
    }

    // Each violation closes the connection with a stable code and tells the peer why.
    @Test(arguments: [
        ("first message not hello", RefusalCode.helloExpected),
        ("wrong version in hello", .unsupportedVersion),
        ("role not allowed", .roleNotAllowed),
        ("hello names someone else", .helloMismatch),
        ("uid not allowed", .uidNotAllowed),
        ("uid unknown", .uidNotAllowed),
        ("type not allowed for role", .messageTypeNotAllowed),
        ("control message after hello", .messageTypeNotAllowed),
        ("second hello", .helloExpected),
        ("sequence gap", .sequenceError),
        ("garbage", .malformedEnvelope),
        ("unknown type", .unknownMessageType),
    ])
    func violationsCloseWithAReason(name: String, code: RefusalCode) {
        var s = server(peerUID: name == "uid not allowed" ? 4242 : name == "uid unknown" ? nil : 0)
        var actions: [ConnectionAction] = []
        switch name {
        case "first message not hello": actions = s.received(env(.probe(Probe(counter: 1, text: "")), seq: 1), now: now)
        case "wrong version in hello": actions = s.received(env(hello(version: 9), seq: 1), now: now)
        case "role not allowed":
            let strategy = ProcessIdentity(role: .strategy, instance: "main")
            actions = s.received(env(hello(strategy), seq: 1, from: strategy), now: now)
        case "hello names someone else": actions = s.received(env(hello(ProcessIdentity(role: .risk, instance: "other")), seq: 1), now: now)
        case "uid not allowed", "uid unknown": actions = s.received(env(hello(), seq: 1), now: now)
        default:
            let control = ProcessIdentity(role: .control, instance: "main")
            let who = name == "type not allowed for role" ? control : Self.risk
            _ = s.received(env(hello(who), seq: 1, from: who), now: now)
            switch name {
            case "type not allowed for role":
                actions = s.received(env(.probe(Probe(counter: 1, text: "")), seq: 2, from: control), now: now)
            case "control message after hello": actions = s.received(env(.ack(Ack(id: "z", duplicate: false)), seq: 2), now: now)
            case "second hello": actions = s.received(env(hello(), seq: 2), now: now)
            case "sequence gap": actions = s.received(env(.probe(Probe(counter: 1, text: "")), seq: 5), now: now)
            case "garbage": actions = s.received(.failure(.malformed("not valid JSON")), now: now)
            case "unknown type": actions = s.received(.failure(.unknownType("x")), now: now)
            default: Issue.record("unhandled case \(name)")
            }
        }
        #expect(refusal(actions) == code)
        guard case .send(let r) = actions.first, case .refused(let refusal) = r.message else {
            Issue.record("peer not told")
            return
        }
        #expect(refusal.code == code)
        #expect(s.received(env(.probe(Probe(counter: 1, text: "")), seq: 9), now: now).isEmpty, "a closed connection ignores input")
    }

    @Test func oversizedFrameAndHelloTimeoutClose() {
        var s = server()
        #expect(refusal(s.frameError(.oversized(length: 5000, maximum: 1024), now: now)) == .oversizedFrame)
        var t = server()
        #expect(refusal(t.helloTimedOut(now: now)) == .helloTimeout)
        var u = server()
        _ = u.received(env(hello(), seq: 1), now: now)
        #expect(u.helloTimedOut(now: now).isEmpty, "timeout after hello is moot")
    }

    @Test func clientHandshakeAcksAndRefusal() {
        var c = ClientConnectionMachine(local: Self.risk, connection: 3, expectedPeer: .broker)
        let h = c.hello(pid: 5, now: now)
        #expect(h.seq == 1 && h.message == .hello(Hello(role: .risk, instance: "main", pid: 5)))
        let w = Message.welcome(Welcome(role: .broker, instance: "paper", pid: 10, maxFrameBytes: 1024))
        #expect(
            c.received(env(w, seq: 1, from: Self.broker), now: now) == [.established(PeerInfo(identity: Self.broker, pid: 10, uid: nil))])
        let p = c.envelope(.probe(Probe(counter: 1, text: "a")), id: "risk@main/o1", correlationID: nil, now: now)
        #expect(p.seq == 2 && p.id == "risk@main/o1")
        #expect(
            c.received(env(.ack(Ack(id: "risk@main/o1", duplicate: false)), seq: 2, from: Self.broker), now: now)
                == [.acknowledged(Ack(id: "risk@main/o1", duplicate: false))])
        let r = Refusal(code: .sequenceError, detail: "x")
        #expect(c.received(env(.refused(r), seq: 3, from: Self.broker), now: now) == [.close(r)])
    }

    @Test func clientRefusesAWelcomeFromTheWrongRole() {
        var c = ClientConnectionMachine(local: Self.risk, connection: 1, expectedPeer: .broker)
        _ = c.hello(pid: 1, now: now)
        let w = Message.welcome(Welcome(role: .notifier, instance: "main", pid: 10, maxFrameBytes: 1024))
        #expect(refusal(c.received(env(w, seq: 1, from: ProcessIdentity(role: .notifier)), now: now)) == .roleNotAllowed)
    }
}

@Suite struct BackoffTests {
    @Test func growsExponentiallyToTheCapWithJitterInTheUpperHalf() {
        var b = Backoff(initial: .milliseconds(50), maximum: .seconds(1))
        var rng = SystemRandomNumberGenerator()
        let ceilings: [Duration] = [
            .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
        ]
        for c in ceilings {
            #expect(b.ceiling == c)
            let d = b.next(using: &rng)
            #expect(d >= c / 2 && d <= c)
        }
        b.reset()
        #expect(b.ceiling == .milliseconds(50))
    }

    @Test func neverOverflowsAfterManyAttempts() {
        var b = Backoff(initial: .seconds(1), maximum: .seconds(30))
        var rng = SplitMix64(seed: 42)
        for _ in 0..<200 { _ = b.next(using: &rng) }
        #expect(b.ceiling == .seconds(30))
    }
}
