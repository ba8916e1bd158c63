import ASTCore
import Testing

@testable import ASTWire

/// A refusal that names the message it answers is a reply the client hands on (the broker's
/// refusal of one approval); one that names nothing still ends the connection.
@Suite struct CorrelatedRefusalTests {
    static let broker = ProcessIdentity(role: .broker, instance: "paper")
    let now = Timestamp(nanoseconds: 1)

    func established() -> ClientConnectionMachine {
        var c = ClientConnectionMachine(local: ProcessIdentity(role: .risk, instance: "main"), connection: 1, expectedPeer: .broker)
        _ = c.hello(pid: 5, now: now)
        let w = Envelope(
            sender: Self.broker, seq: 1, id: "w", timestamp: now,
            message: .welcome(Welcome(role: .broker, instance: "paper", pid: 10, maxFrameBytes: 1024)))
        _ = c.received(.success(w), now: now)
        return c
    }

    @Test func aRefusalOfOneMessageIsDeliveredAndTheConnectionStays() {
        var c = established()
        let refusal = Refusal(code: .approvalSignatureInvalid, detail: "approval appr-i-1 does not carry a valid signature")
        let reply = Envelope(
            sender: Self.broker, seq: 2, id: "r", correlationID: "risk@main>broker@paper#7", timestamp: now,
            message: .refused(refusal))
        #expect(c.received(.success(reply), now: now) == [.deliver(reply)])
        #expect(c.isEstablished)
    }

    @Test func aRefusalThatNamesNoMessageClosesTheConnection() {
        var c = established()
        let refusal = Refusal(code: .sequenceError, detail: "x")
        let closing = Envelope(sender: Self.broker, seq: 2, id: "r", timestamp: now, message: .refused(refusal))
        #expect(c.received(.success(closing), now: now) == [.close(refusal)])
        #expect(!c.isEstablished)
    }
}
