import ASTCore
import Testing

@testable import ASTRisk

/// An intent not approved by the end of its session expires (INTENT_EXPIRED): a pre-market
/// decision never goes out on another day, whatever reaches the gate late.
@Suite struct ExpiryTests {
    @Test func anIntentArrivingAtOrAfterItsSessionEndIsBlockedAsExpired() throws {
        var desk = try Desk.ready(loose)
        var late = intent("i-late", quantity: 10)
        late.expiresAt = desk.now
        guard case .block(let code, _) = desk.decide(late) else {
            Issue.record("an expired intent was approved")
            return
        }
        #expect(code == .intentExpired)
        var onTime = intent("i-on-time", quantity: 10)
        onTime.expiresAt = desk.now.advanced(by: .seconds(1))
        #expect(desk.decide(onTime).approval != nil, "an intent before its expiry is decided on its merits")
    }

    @Test func anApprovedIntentResentAfterItsExpiryIsNotApprovedAgain() throws {
        var desk = try Desk.ready(loose)
        var group = intent("i-resent", quantity: 10)
        group.expiresAt = desk.now.advanced(by: .seconds(60))
        #expect(desk.decide(group).approval != nil)
        desk.advance(.seconds(60))
        #expect(desk.decide(group).reason == .intentExpired)
    }

    /// Random sequences of inputs (the Safe Mode property tests' generator) with expiries
    /// before and after each intent's arrival, some intents sent twice: an intent decided at or
    /// after its expiry is never approved.
    @Test(arguments: 0..<60)
    func anExpiredIntentIsNeverApproved(seed: UInt64) {
        var generator = InputGenerator(seed: seed)
        var rng = SplitMix64(seed: seed &+ 0x5EED)
        var gate = try! RiskGate(limits: loose, restoring: .firstStart(at: t0))
        var sent: [IntentGroup] = []
        var expiredDecisions = 0
        for _ in 0..<400 {
            var step = generator.next()
            if case .intent(var g) = step.input {
                if !sent.isEmpty && Int.random(in: 0..<4, using: &rng) == 0 {
                    g = sent[Int.random(in: 0..<sent.count, using: &rng)]
                } else if Int.random(in: 0..<3, using: &rng) != 0 {
                    g.expiresAt = step.now.advanced(by: .seconds(Int64.random(in: -120...120, using: &rng)))
                }
                sent.append(g)
                step.input = .intent(g)
            }
            for case .decision(let d) in gate.handle(step.input, now: step.now) {
                guard case .intent(let g) = step.input, let expiry = g.expiresAt, step.now >= expiry else { continue }
                expiredDecisions += 1
                #expect(d.decision.approval == nil, "seed \(seed): \(g.id) approved at \(step.now), expired at \(expiry)")
                #expect(d.decision.reason == .intentExpired)
            }
        }
        #expect(expiredDecisions > 0, "seed \(seed): the sequence had expired intents")
    }
}
