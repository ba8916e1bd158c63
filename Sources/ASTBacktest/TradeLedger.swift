import ASTCalendar
import ASTCore

/// Turns fills into round-trip trades. A fill on the side of a symbol's open lots (or on a flat
/// symbol) enters: it joins the open lot of the same entry order (partial fills) or opens a lot;
/// a fill on the other side exits the symbol's open lots first in, first out. A lot becomes a
/// ``BacktestTrade`` when its last share is gone. Commissions are kept exact: an exit fill's
/// commission is split over the lots it closes in proportion to the shares, the remainder to the
/// last; the sum of the trades' P&L is the change in cash plus the open lots at their marks.
public struct TradeLedger: Sendable {
    struct Lot: Sendable {
        var symbol: Symbol
        var side: Side
        var key: String
        var entryDate: LocalDate
        var entrySession: Int
        var quantity: Int64 = 0
        var open: Int64 = 0
        var entryNotional: Int128 = 0
        var entryCommission: Int128 = 0
        var exitNotional: Int128 = 0
        var exitCommission: Int128 = 0
    }

    var lots: [Lot] = []
    public private(set) var trades: [BacktestTrade] = []
    var commissionSum: Int128 = 0
    /// Every commission of every fill applied (summed in 128 bits: absurd inputs saturate, never trap).
    public var commissions: Money { Money(units: Int64(clamping: commissionSum)) }

    public init() {}

    /// Applies one fill. `key` names its entry order (fills with the same key on the entry side
    /// are one lot); `session` is the index of the fill's session in the run (for bars held);
    /// `reason` is what an exit by this fill is called.
    public mutating func apply(
        symbol: Symbol, side: Side, quantity: Int64, price: Price, commission: Money, date: LocalDate, session: Int, key: String,
        reason: ExitReason
    ) {
        guard quantity > 0 else { return }
        commissionSum += Int128(commission.units)
        let openSide = lots.first { $0.symbol == symbol }?.side
        if openSide == nil || openSide == side {
            enter(
                symbol: symbol, side: side, quantity: quantity, price: price, commission: Int128(commission.units), date: date,
                session: session,
                key: key)
            return
        }
        var remaining = quantity
        var charged: Int128 = 0
        var i = 0
        while remaining > 0, i < lots.count {
            guard lots[i].symbol == symbol else {
                i += 1
                continue
            }
            let m = min(remaining, lots[i].open)
            remaining -= m
            let share = remaining == 0 ? Int128(commission.units) - charged : Int128(commission.units) * Int128(m) / Int128(quantity)
            charged += share
            lots[i].open -= m
            lots[i].exitNotional += Int128(m) * Int128(price.units)
            lots[i].exitCommission += share
            if lots[i].open == 0 {
                close(lots.remove(at: i), date: date, session: session, reason: reason)
            } else {
                i += 1
            }
        }
        if remaining > 0 {  // a flip: the rest opens a lot on the other side
            enter(
                symbol: symbol, side: side, quantity: remaining, price: price, commission: Int128(commission.units) - charged, date: date,
                session: session, key: key)
        }
    }

    mutating func enter(
        symbol: Symbol, side: Side, quantity: Int64, price: Price, commission: Int128, date: LocalDate, session: Int, key: String
    ) {
        let i =
            lots.firstIndex { $0.symbol == symbol && $0.key == key }
            ?? {
                lots.append(Lot(symbol: symbol, side: side, key: key, entryDate: date, entrySession: session))
                return lots.count - 1
            }()
        lots[i].quantity += quantity
        lots[i].open += quantity
        lots[i].entryNotional += Int128(quantity) * Int128(price.units)
        lots[i].entryCommission += commission
    }

    mutating func close(_ lot: Lot, date: LocalDate, session: Int, reason: ExitReason) {
        let sign: Int128 = lot.side == .buy ? 1 : -1
        let pnl = sign * (lot.exitNotional - lot.entryNotional) - lot.entryCommission - lot.exitCommission
        let q = Int128(lot.quantity)
        trades.append(
            BacktestTrade(
                symbol: lot.symbol, side: lot.side, entryDate: lot.entryDate, entryPrice: Price(units: Self.divide(lot.entryNotional, q)),
                exitDate: date, exitPrice: Price(units: Self.divide(lot.exitNotional, q)), quantity: Quantity(lot.quantity),
                pnl: Money(units: Int64(clamping: pnl)),
                commission: Money(units: Int64(clamping: lot.entryCommission + lot.exitCommission)),
                returnFraction: lot.entryNotional > 0 ? Double(pnl) / Double(lot.entryNotional) : 0,
                barsHeld: session - lot.entrySession, exitReason: reason))
    }

    /// Symbols with open lots, in the order their first open lot was entered.
    public var openSymbols: [Symbol] {
        var seen: [Symbol] = []
        for l in lots where !seen.contains(l.symbol) { seen.append(l.symbol) }
        return seen
    }

    /// Closes every open lot at `mark(symbol)` (date, session index, price) as ``ExitReason/endOfData``,
    /// without commission, and returns the trades ordered by entry (date, then the order closed).
    public mutating func finish(mark: (Symbol) -> (date: LocalDate, session: Int, price: Price)?) -> [BacktestTrade] {
        while let lot = lots.first {
            lots.removeFirst()
            guard let m = mark(lot.symbol) else { continue }
            var l = lot
            l.exitNotional += Int128(l.open) * Int128(m.price.units)
            l.open = 0
            close(l, date: m.date, session: m.session, reason: .endOfData)
        }
        return trades.enumerated().sorted { ($0.element.entryDate, $0.offset) < ($1.element.entryDate, $1.offset) }.map(\.element)
    }

    /// `n / d` rounded half away from zero (d > 0).
    static func divide(_ n: Int128, _ d: Int128) -> Int64 {
        guard d > 0 else { return 0 }
        let q = n / d, r = n % d
        return Int64(clamping: 2 * r.magnitude >= d.magnitude ? q + (n < 0 ? -1 : 1) : q)
    }
}
