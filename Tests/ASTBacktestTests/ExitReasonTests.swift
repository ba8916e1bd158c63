import Testing

@testable import ASTBacktest

/// The exit reason `trades.csv` names for an exit rule's reduce-only intent.
@Suite struct ExitReasonTests {
    @Test func everyExitRuleThatHasAReasonIsNamedByItAndOthersAreReduces() {
        #expect(ExitReason.ofExitIntent("2025-07-03.exit-weak_exit.MCHN") == .weakExit)
        #expect(ExitReason.ofExitIntent("2025-07-03.exit-time_stop.MCHN") == .timeStop)
        #expect(ExitReason.ofExitIntent("2025-07-03.exit-trailing_stop.MCHN") == .trailingStop)
        #expect(ExitReason.ofExitIntent("2025-07-03.exit-staged_take_profit.MCHN") == .stagedTakeProfit)
        #expect(ExitReason.ofExitIntent("2025-07-03.exit-rotation.MCHN") == .rotation)
        #expect(ExitReason.ofExitIntent("2025-07-03.exit-margin_call.MCHN") == .marginCall)
        #expect(ExitReason.ofExitIntent("2025-07-03.exit-some_rule.MCHN") == .reduce)
        #expect(ExitReason.ofExitIntent("2025-07-03.bracket.MCHN") == nil)
    }
}
