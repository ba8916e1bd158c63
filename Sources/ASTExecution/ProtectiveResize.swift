import ASTCore
import ASTMessages

/// A change to one protective order that ``ProtectiveResize`` asks the broker for.
public enum ProtectiveAdjustment: Sendable, Equatable {
    /// Reduce the order to `quantity` shares in all (its fills included).
    case modify(ClientOrderID, quantity: Quantity, reason: String)
    /// Cancel the order: it protects nothing any more.
    case cancel(ClientOrderID, reason: String)

    public var clientOrderID: ClientOrderID {
        switch self {
        case .modify(let id, _, _), .cancel(let id, _): id
        }
    }
}

/// Keeps the protective orders of each symbol within its position, so the book never holds
/// stops or targets for more shares than are held (an over-sell: a stop that fires after a
/// partial exit would open a short).
///
/// A reduce-only order (SAFE_REDUCING at 14:30), `astctl flatten` or any other exit that is
/// not one of the bracket's own legs makes the position smaller while the bracket's stop loss
/// and take profit still work the entry's quantity. After every fill the broker process (and
/// the M8 engine, identically) asks for this plan and sends each adjustment to its broker.
///
/// Rules, on the broker's own account (positions and open orders):
/// - Protective orders are bracket children (stop loss, take profit) and the operator's
///   protective stops (`astctl protect`), while they work (not held: a held child waits for
///   its entry and covers nothing yet).
/// - One OCA group covers the most its members work (one fill cancels the rest); a symbol's
///   protection is the sum over its groups.
/// - A protective order on the side that would open or add to a position (flat, or the
///   position is on its own side) is cancelled.
/// - Protection above the position is cut group by group, from the group with the highest id
///   down (deterministic, so a replay and the engine cut the same), each member to at most
///   its group's new coverage: a member left with nothing is cancelled, the others modified.
public enum ProtectiveResize {
    /// Whether `spec` is an order that protects a position rather than opening one.
    public static func isProtective(_ spec: OrderSpec) -> Bool {
        spec.leg != .entry || ((spec.type == .stop || spec.type == .stopLimit) && OperatorOrder.isOperatorIntent(spec.intent))
    }

    /// The adjustments that bring every symbol's protection within its position, sorted by
    /// symbol then order id; empty when nothing is over.
    public static func plan(positions: [BrokerPosition], openOrders: [BrokerOrder]) -> [ProtectiveAdjustment] {
        var held: [Symbol: Int128] = [:]
        for p in positions { held[p.symbol, default: 0] += Int128(p.quantity.shares) }
        var bySymbol: [Symbol: [BrokerOrder]] = [:]
        for o in openOrders
        where (o.status == .working || o.status == .partiallyFilled) && o.workingQuantity > .zero && isProtective(o.spec) {
            bySymbol[o.spec.symbol, default: []].append(o)
        }
        var out: [ProtectiveAdjustment] = []
        for symbol in bySymbol.keys.sorted() {
            let orders = bySymbol[symbol]!.sorted { $0.spec.clientOrderID < $1.spec.clientOrderID }
            let position = held[symbol] ?? 0
            let closing: Side? = position > 0 ? .sell : position < 0 ? .buy : nil
            let size = position < 0 ? -position : position
            var adjustments: [ProtectiveAdjustment] = []
            for o in orders where o.spec.side != closing {
                let why =
                    closing == nil
                    ? "\(symbol) is flat: no position left to protect"
                    : "\(symbol) is \(position > 0 ? "long" : "short") \(size) shares: a \(o.spec.side) would add to it"
                adjustments.append(.cancel(o.spec.clientOrderID, reason: why))
            }
            let closingOrders = orders.filter { $0.spec.side == closing }
            // OCA groups, keyed as the exchange keys them.
            var groups: [String: [BrokerOrder]] = [:]
            for o in closingOrders { groups[key(o.spec), default: []].append(o) }
            let covers = groups.mapValues { $0.map { Int128($0.workingQuantity.shares) }.max() ?? 0 }
            var excess = covers.values.reduce(0, +) - size
            for g in groups.keys.sorted(by: >) where excess > 0 {
                let cover = covers[g]!
                let cut = min(cover, excess)
                excess -= cut
                let left = cover - cut
                for o in groups[g]! {
                    let working = Int128(o.workingQuantity.shares)
                    guard working > left else { continue }
                    let why = "protection of \(symbol) cut to the position of \(size) shares"
                    if left == 0 {
                        adjustments.append(.cancel(o.spec.clientOrderID, reason: why))
                    } else if let total = Int64(exactly: Int128(o.filledQuantity.shares) + left) {
                        adjustments.append(.modify(o.spec.clientOrderID, quantity: Quantity(total), reason: why))
                    }
                }
            }
            out += adjustments.sorted { $0.clientOrderID < $1.clientOrderID }
        }
        return out
    }

    /// Children of one entry share a group; standalone orders share one by OCA group name.
    static func key(_ spec: OrderSpec) -> String {
        if let parent = spec.parent { return "parent:\(parent.rawValue)" }
        if let oca = spec.ocaGroup { return "oca:\(oca)" }
        return "order:\(spec.clientOrderID.rawValue)"
    }
}
