import ASTBus
import ASTCore
import ASTRisk
import ASTWire

extension RiskShell {
    /// The broker answered an `order.submit` with a refusal (``Refusal``, or a `command.result`
    /// that is not accepted): the approval never reached its exchange. Journaled as a bounded,
    /// validated ``RiskInput/orderRefused(_:)`` and handed to the gate, which stops counting the
    /// approval, blocks the intent if re-sent and raises the alert (P0 for identity codes).
    func brokerReplied(_ answer: BusClient.SentReply) {
        guard case .orderSubmit(let approval) = answer.original.message,
            let (code, detail) = Self.refusal(in: answer.reply.message)
        else { return }
        let refusal = OrderRefusal(
            approval: approval.id, intent: approval.intent, broker: broker.target,
            code: InputRefusal.bounded(code, limit: OrderRefusal.maxCodeBytes),
            detail: InputRefusal.bounded(detail))
        if let problem = RiskInput.orderRefused(refusal).validate() {
            logger.error("a broker refusal not journaled: \(problem)", metadata: ["approval": "\(approval.id)"])
            return
        }
        let line = "\(refusal.broker) refused approval \(approval.id): \(refusal.code): \(refusal.detail)"
        if refusal.isIdentityRefusal { logger.critical("\(line)") } else { logger.error("\(line)") }
        handle(.orderRefused(refusal))
    }

    /// The refusal code and detail of a reply, or nil for a reply that is not a refusal. A
    /// validation refusal comes as `CODE: detail` (``InputRefusal/description``).
    static func refusal(in reply: Message) -> (code: String, detail: String)? {
        switch reply {
        case .refused(let r):
            return (r.code.rawValue, r.detail)
        case .commandResult(let result) where !result.accepted:
            let parts = result.message.split(separator: ":", maxSplits: 1)
            if parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= OrderRefusal.maxCodeBytes,
                parts[0].allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") })
            {
                return (String(parts[0]), String(parts[1].drop { $0 == " " }))
            }
            return ("REFUSED", result.message)
        default:
            return nil
        }
    }
}
