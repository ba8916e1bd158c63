import ASTCore

/// What the exchange refuses in a submitted bracket, per leg, in words an operator understands.
/// It does not check that a stop is on the protective side of the price: a real exchange does
/// not either.
enum BracketValidation {
    /// One problem (or nil) per leg of `bracket`, in ``BracketOrder/legs`` order.
    static func problems(of bracket: BracketOrder) -> [String?] {
        let entry = bracket.entry
        var result: [String?] = [problem(of: entry, slot: .entry, bracket: bracket)]
        if let stop = bracket.stopLoss { result.append(problem(of: stop, slot: .stopLoss, bracket: bracket)) }
        if let target = bracket.takeProfit { result.append(problem(of: target, slot: .takeProfit, bracket: bracket)) }
        return result
    }

    static func problem(of leg: OrderSpec, slot: BracketLeg, bracket: BracketOrder) -> String? {
        let name = slot == .entry ? "entry" : (slot == .stopLoss ? "stop loss" : "take profit")
        if leg.intent != bracket.intent {
            return "the \(name) belongs to intent \(leg.intent) but the bracket to \(bracket.intent)"
        }
        if leg.leg != slot {
            return "the \(name) is labelled \(leg.leg.rawValue)"
        }
        if slot == .entry {
            if let parent = leg.parent { return "an entry has no parent order (got \(parent))" }
            if leg.reduceOnly && (bracket.stopLoss != nil || bracket.takeProfit != nil) {
                return "a reduce-only order closes a position: it carries no stop loss or take profit of its own"
            }
        } else {
            if leg.reduceOnly { return "the \(name) is reduce-only: only a standalone order is (a bracket's legs follow their entry)" }
            let entry = bracket.entry
            guard leg.parent == entry.clientOrderID else {
                return "the \(name) must name the entry \(entry.clientOrderID) as its parent (got \(leg.parent?.rawValue ?? "none"))"
            }
            if leg.symbol != entry.symbol { return "the \(name) is for \(leg.symbol) but the entry for \(entry.symbol)" }
            if leg.side != entry.side.opposite {
                return "the \(name) must \(entry.side.opposite) to close the entry's \(entry.side), not \(leg.side)"
            }
        }
        if leg.quantity <= .zero { return "quantity must be a positive number of shares (got \(leg.quantity))" }
        if leg.quantity > PaperExchange.maxOrderQuantity {
            return "quantity \(leg.quantity) is above the paper broker's limit of \(PaperExchange.maxOrderQuantity) shares"
        }
        let needsLimit = leg.type == .limit || leg.type == .stopLimit
        let needsStop = leg.type == .stop || leg.type == .stopLimit
        if let p = priceProblem(leg.limitPrice, kind: "limit", needed: needsLimit, type: leg.type) { return p }
        if let p = priceProblem(leg.stopPrice, kind: "stop", needed: needsStop, type: leg.type) { return p }
        return nil
    }

    static func priceProblem(_ price: Price?, kind: String, needed: Bool, type: OrderType) -> String? {
        switch (price, needed) {
        case (nil, true): return "a \(type.rawValue) order needs a \(kind) price"
        case (let p?, false): return "a \(type.rawValue) order takes no \(kind) price (got \(p))"
        case (let p?, true) where p <= .zero: return "the \(kind) price must be positive (got \(p))"
        case (let p?, true) where p > PaperExchange.maxOrderPrice:
            return "the \(kind) price \(p) is above the paper broker's limit of \(PaperExchange.maxOrderPrice)"
        default: return nil
        }
    }
}
