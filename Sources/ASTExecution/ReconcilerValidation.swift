import ASTCore
import ASTMessages

extension ReconcilerInput {
    /// The largest share quantity or price a report or a mark may carry (as the paper broker's).
    public static let maxQuantity = Quantity(1_000_000_000)
    public static let maxPrice = Price(units: 1_000_000 * 10_000)
    /// The largest notional of one fill (10^12 dollars): far below what overflows the portfolio's cash.
    public static let maxNotional = Money(units: 1_000_000_000_000 * 10_000)

    /// Refuses an input the reconciler must never journal or apply: a fill or a mark with a
    /// quantity, price or commission beyond the bounds above or not positive, a time outside
    /// 1970 ... 2200, texts beyond their size. The shell calls it before the bus journals a
    /// message; the restore calls it on every journaled input (an input an older version let
    /// through is quarantined instead of replayed).
    public func validate() -> InputRefusal? {
        switch self {
        case .report(let r):
            if let x = InputCheck.time(r.at, "report time") ?? InputCheck.text(r.id, "report id", max: InputCheck.maxIdentifierBytes)
                ?? InputCheck.text(r.broker, "broker", max: InputCheck.maxIdentifierBytes)
            {
                return x
            }
            switch r.event {
            case .fill(let f):
                let notional = Int128(f.quantity.shares) * Int128(f.price.units)
                if notional > Int128(Self.maxNotional.units) {
                    return InputRefusal(.outOfRange, "fill \(f.executionID): \(f.quantity) x \(f.price) is more than \(Self.maxNotional)")
                }
                return InputCheck.time(f.at, "fill time")
                    ?? InputCheck.integer(f.quantity.shares, "fill quantity", in: 1...Self.maxQuantity.shares)
                    ?? InputCheck.price(f.price, "fill price", max: Self.maxPrice)
                    ?? InputCheck.integer(f.commission.units, "commission (1/10,000 $)", in: 0...Self.maxPrice.units)
            case .submitting(let spec):
                if let oca = spec.ocaGroup, let x = InputCheck.text(oca, "OCA group", max: InputCheck.maxIdentifierBytes) { return x }
                return InputCheck.integer(spec.quantity.shares, "order quantity", in: -Self.maxQuantity.shares...Self.maxQuantity.shares)
                    ?? spec.limitPrice.flatMap {
                        InputCheck.integer($0.units, "limit price", in: -Self.maxPrice.units...Self.maxPrice.units)
                    }
                    ?? spec.stopPrice.flatMap { InputCheck.integer($0.units, "stop price", in: -Self.maxPrice.units...Self.maxPrice.units) }
            case .acknowledged(_, let brokerOrderID):
                return InputCheck.text(brokerOrderID, "broker order id", max: InputCheck.maxIdentifierBytes)
            case .unacknowledged(_, let text), .cancelled(_, let text), .rejected(_, let text):
                return InputCheck.text(text, "detail")
            case .modified(_, let quantity, let text):
                return InputCheck.integer(quantity.shares, "modified quantity", in: 1...Self.maxQuantity.shares)
                    ?? InputCheck.text(text, "detail")
            case .commission(_, _, let amount):
                return InputCheck.integer(amount.units, "commission (1/10,000 $)", in: 0...Self.maxPrice.units)
            case .accepted, .expired:
                return nil
            }
        case .mark(let m):
            return InputCheck.time(m.at, "mark time") ?? InputCheck.price(m.price, "mark \(m.symbol)", max: Self.maxPrice)
        case .initial, .reconciliation, .reconciliationIncomplete, .startDay, .sectors:
            // Made by the reconciler itself (from the broker's answer, the clock, reference data).
            return nil
        }
    }
}
