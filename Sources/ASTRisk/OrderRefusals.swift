import ASTCore

extension RiskGate {
    /// A broker refused an approval the gate sent: no order exists for it. The approval stops
    /// counting as if filled, a re-sent intent is blocked as ``ReasonCode/orderRefusedByBroker``
    /// instead of being approved (and refused) again, and the operator is told: P0 for an
    /// identity or signature code (the tree's own order failed the kernel's or the key's check:
    /// something is wrong with the tree), P1 otherwise. The rate window keeps counting it.
    mutating func orderRefused(_ r: OrderRefusal, now: Timestamp) -> [RiskOutput] {
        pending.removeAll { $0.approval == r.approval }
        if let earlier = decided[r.intent], let given = earlier.decision.decision.approval, given.id == r.approval {
            decided[r.intent] = Remembered(
                intent: earlier.intent,
                decision: IntentDecision(
                    intent: r.intent,
                    decision: .block(.orderRefusedByBroker, detail: "\(r.broker) refused \(r.approval): \(r.code): \(r.detail)"),
                    at: earlier.decision.at))
        }
        if !refusedApprovals.contains(r.approval) {
            refusedApprovals.append(r.approval)
            if refusedApprovals.count > RiskGate.rememberedDecisions { refusedApprovals.removeFirst() }
        }
        let identity = r.isIdentityRefusal
        var text =
            "\(r.broker) refused approval \(r.approval) (intent \(r.intent)): \(r.code): \(r.detail). "
            + "No order was placed; the intent is blocked as \(ReasonCode.orderRefusedByBroker.rawValue) if sent again."
        if identity {
            text +=
                " An identity or signature refusal of the risk gate's own order means the tree's approval key or peer table is wrong:"
                + " no order can pass until it is fixed (see the broker's bus.protocol_error entries)."
        }
        return [
            .alert(
                Alert(
                    priority: identity ? .p0 : .p1, key: "order-refused:\(r.approval):\(r.code)",
                    title: "AST order refused by \(r.broker): \(r.code)", text: text, at: now))
        ]
    }
}
