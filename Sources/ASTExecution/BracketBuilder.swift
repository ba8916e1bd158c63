import ASTCore
import ASTMessages

/// Turns a risk approval into the bracket group the broker process submits: the entry, its
/// protective stop and its take profit, with ids derived from the intent so that a
/// re-submission after a crash carries the same ids.
public enum BracketBuilder {
    /// The OCA group of an intent's stop loss and take profit: `<intent>.oca`.
    public static func ocaGroup(for intent: IntentID) -> String { "\(intent.rawValue).oca" }

    /// The bracket for `approval`: every leg at the approved quantity; the entry at the market
    /// or at its limit for `entryTIF`; the stop loss (a stop) and the take profit (a limit) on
    /// the opposite side, GTC, children of the entry and one OCA group. A leg the approval has
    /// no price for is absent. The entry of a reduction or an operator order is reduce-only
    /// (``OrderSpec/isReduceOnlyIntent(_:)``).
    public static func bracket(for approval: Approval, timeInForce entryTIF: TimeInForce = .day) -> BracketOrder {
        let entryID = ClientOrderID(intent: approval.intent, leg: .entry)
        // A stop "entry" is an operator's protective stop for a held position (astctl protect):
        // a standalone stop on the closing side, good till cancelled like every protective stop.
        let type: OrderType = approval.entry.stopPrice != nil ? .stop : approval.entry.limitPrice == nil ? .market : .limit
        let entry = OrderSpec(
            clientOrderID: entryID, intent: approval.intent, leg: .entry, symbol: approval.symbol, side: approval.side,
            quantity: approval.quantity, type: type, limitPrice: approval.entry.limitPrice, stopPrice: approval.entry.stopPrice,
            timeInForce: type == .stop ? .gtc : entryTIF,
            ocaGroup: OperatorOrder.isOperatorIntent(approval.intent) ? OperatorOrder.ocaGroup(symbol: approval.symbol) : nil,
            reduceOnly: OrderSpec.isReduceOnlyIntent(approval.intent))
        let oca = ocaGroup(for: approval.intent)
        let exitSide = approval.side.opposite
        let stopLoss = approval.stopLoss.map { stop in
            OrderSpec(
                clientOrderID: ClientOrderID(intent: approval.intent, leg: .stopLoss), intent: approval.intent, leg: .stopLoss,
                symbol: approval.symbol, side: exitSide, quantity: approval.quantity, type: .stop, stopPrice: stop,
                timeInForce: .gtc, parent: entryID, ocaGroup: oca)
        }
        let takeProfit = approval.takeProfit.map { target in
            OrderSpec(
                clientOrderID: ClientOrderID(intent: approval.intent, leg: .takeProfit), intent: approval.intent,
                leg: .takeProfit, symbol: approval.symbol, side: exitSide, quantity: approval.quantity, type: .limit,
                limitPrice: target, timeInForce: .gtc, parent: entryID, ocaGroup: oca)
        }
        return BracketOrder(intent: approval.intent, entry: entry, stopLoss: stopLoss, takeProfit: takeProfit)
    }
}
