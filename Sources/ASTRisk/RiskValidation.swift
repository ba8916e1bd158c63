import ASTCore

/// The bounds of what the risk gate accepts from its peers; beyond them a message is refused
/// before it is journaled (see ``RiskInput/validate()``).
public enum RiskInputBounds {
    /// The largest share quantity in an intent or a position.
    public static let maxQuantity = Quantity(1_000_000_000)
    /// The largest price in an intent, a mark or a position (1,000,000.00).
    public static let maxPrice = Price(units: 1_000_000 * 10_000)
    /// The largest amount of money in a portfolio snapshot, either sign (10^12 dollars).
    public static let maxMoney = Money(units: 1_000_000_000_000 * 10_000)
    /// The most positions one portfolio snapshot may hold.
    public static let maxPositions = 100_000
    /// The most open orders one portfolio snapshot may count.
    public static let maxOpenOrders = 10_000_000
}

extension RiskInput {
    /// Refuses an input the gate must never journal or see: a number beyond
    /// ``RiskInputBounds``, a time outside 1970 ... 2200, a text beyond its size.
    ///
    /// What the gate decides about on its merits (a zero quantity, a stop on the wrong side) is
    /// not refused here: it is blocked with a reason code, as before. The risk shell calls this
    /// before the bus journals a message; its restore calls it on every journaled input, so an
    /// input an older version let through is quarantined instead of replayed.
    public func validate() -> InputRefusal? {
        typealias B = RiskInputBounds
        func price(_ p: Price?, _ field: String) -> InputRefusal? {
            guard let p else { return nil }
            guard p.units >= -B.maxPrice.units, p <= B.maxPrice else {
                return InputRefusal(.outOfRange, "\(field) \(p) is beyond \(B.maxPrice)")
            }
            return nil
        }
        func quantity(_ q: Quantity, _ field: String) -> InputRefusal? {
            guard q.shares >= -B.maxQuantity.shares, q <= B.maxQuantity else {
                return InputRefusal(.outOfRange, "\(field) \(q) is beyond \(B.maxQuantity) shares")
            }
            return nil
        }
        func money(_ m: Money, _ field: String) -> InputRefusal? {
            guard m.units >= -B.maxMoney.units, m <= B.maxMoney else {
                return InputRefusal(.outOfRange, "\(field) \(m) is beyond \(B.maxMoney)")
            }
            return nil
        }
        switch self {
        case .intent(let g):
            return InputCheck.time(g.createdAt, "created_at") ?? quantity(g.quantity, "quantity")
                ?? price(g.entry.limitPrice, "limit price") ?? price(g.entry.stopPrice, "stop price") ?? price(g.stopLoss, "stop loss")
                ?? price(g.takeProfit, "take profit")
                ?? g.sector.flatMap { InputCheck.text($0, "sector", max: InputCheck.maxIdentifierBytes) }
        case .portfolio(let p):
            if let r = InputCheck.time(p.asOf, "as_of") ?? money(p.cash, "cash") ?? money(p.equity, "equity")
                ?? money(p.peakEquity, "peak equity") ?? money(p.startOfDayEquity, "start-of-day equity")
                ?? InputCheck.integer(p.positions.count, "positions", in: 0...B.maxPositions)
                ?? InputCheck.integer(p.openOrders, "open orders", in: 0...B.maxOpenOrders)
            {
                return r
            }
            for symbol in p.positions.keys.sorted() {
                guard let pos = p.positions[symbol] else { continue }
                if let r = quantity(pos.quantity, "\(symbol) quantity") ?? price(pos.averagePrice, "\(symbol) average price")
                    ?? price(pos.lastMark, "\(symbol) mark")
                    ?? pos.sector.flatMap({ InputCheck.text($0, "\(symbol) sector", max: InputCheck.maxIdentifierBytes) })
                {
                    return r
                }
            }
            return nil
        case .mark(let m):
            return InputCheck.time(m.at, "mark time") ?? price(m.price, "mark \(m.symbol)")
        case .brokerConnection(let r):
            return InputCheck.text(r.detail, "detail")
        case .reconciliation(.mismatch(let text)):
            return InputCheck.text(text, "mismatch", max: 64 * 1024)
        case .journalVerificationFailed(let detail):
            return InputCheck.text(detail, "detail")
        case .command(.halt(let reason)):
            return InputCheck.text(reason, "reason")
        case .cancel(let c):
            return InputCheck.text(c.orderID, "order id", max: InputCheck.maxIdentifierBytes)
        case .orderRefused(let r):
            return InputCheck.text(r.broker, "broker", max: InputCheck.maxIdentifierBytes)
                ?? InputCheck.text(r.code, "refusal code", max: OrderRefusal.maxCodeBytes)
                ?? InputCheck.text(r.detail, "refusal detail", max: InputRefusal.maxDetailBytes)
        case .operatorOrder(let o):
            return o.quantity.flatMap { quantity($0, "quantity") } ?? price(o.stopPrice, "stop price")
                ?? InputCheck.text(o.reason, "reason")
        case .reconciliation(.clean), .command(.resume), .lifecycle, .startedAfterUncleanExit:
            return nil
        }
    }
}

extension Alert {
    /// The longest alert text the notifier accepts (a reconciliation's findings fit well within).
    public static let maxTextBytes = 64 * 1024

    /// Refuses an alert the notifier must not journal or send: a key, title or text beyond its
    /// size, a time outside 1970 ... 2200.
    public func validate() -> InputRefusal? {
        InputCheck.text(key, "alert key", max: InputCheck.maxIdentifierBytes) ?? InputCheck.text(title, "alert title")
            ?? InputCheck.text(text, "alert text", max: Self.maxTextBytes) ?? InputCheck.time(at, "alert time")
    }
}
