import ASTCalendar
import ASTCore
import ASTExecution
import ASTRisk

extension EngineRun {
    /// 14:30 (after its reconciliation): in SAFE_REDUCING, the reduce-only intents of
    /// ``SafeReducing/plan(state:portfolio:marks:limits:)`` over the portfolio the strategy holds,
    /// each to the risk gate, then the approved ones to the exchange (as the tree's strategy
    /// does: it asks the gate for its state, plans, and sends the intents one by one). In ACTIVE
    /// or HALTED nothing happens.
    mutating func safeReduce(_ session: Session, _ now: Timestamp) {
        guard let portfolio = strategyPortfolio else { return }  // when in doubt, do nothing
        let plan = SafeReducing.plan(state: gate.state, portfolio: portfolio, limits: engine.config.limits)
        let intents = plan.intents(
            day: session.date.description, createdAt: now, expiresAt: EngineSemantics.intentExpiry(of: session))
        var approvals: [Approval] = []
        for intent in intents {
            out.intents.append(intent)
            dayIntents += 1
            for case .decision(let d) in risk(.intent(intent), now) where d.intent == intent.id {
                if let a = d.decision.approval {
                    approvals.append(a)
                    dayApproved += 1
                }
            }
        }
        for a in approvals { broker(.submit(BracketBuilder.bracket(for: a)), now) }
    }
}
