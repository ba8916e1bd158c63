import ASTCore
import ASTMessages
import Testing

@testable import ASTRisk

/// Alert keys as senders build them (M16): from the journal sequence of the input that caused
/// the alert, never from a clock reading, which stands still on the replay clock.
@Suite struct NotifierAlertKeyTests {
    /// Twenty halts and resumes at one trading-clock instant, as on the replay clock between
    /// market events, keyed the way ast-risk keys them (each input's journal sequence).
    @Test func twoTransitionsAtTheSameTradingClockInstantGetDifferentKeys() throws {
        var desk = try Desk(loose.with { $0.resumeRequiresCleanReconciliation = false })
        var keys: [String] = []
        var seq: Int64 = 100
        for n in 1...20 {
            for command in [OperatorCommand.halt(reason: "halt \(n)"), .resume(to: .active)] {
                seq += 1
                let outputs = RiskOutput.keyed(desk.send(.command(command)), input: seq)
                #expect(outputs.transitions.count == 1 && outputs.transitions.first?.at == t0)
                keys += outputs.alerts.map(\.key)
            }
        }
        #expect(keys.count == 40)
        #expect(Set(keys).count == 40, "keys collide: \(keys)")
        #expect(keys.prefix(2) == ["safe-mode:HALTED#101", "safe-mode:ACTIVE#102"])
        #expect(!keys.contains { $0.contains("\(t0.nanoseconds)") }, "a key holds a clock reading: \(keys)")
        // The same input journaled once and handled again (a replay) keeps its key: only a true
        // re-send is a duplicate.
        var again = try Desk(loose.with { $0.resumeRequiresCleanReconciliation = false })
        #expect(RiskOutput.keyed(again.send(.command(.halt(reason: "halt 1"))), input: 101).alerts.map(\.key) == [keys[0]])
    }
}
