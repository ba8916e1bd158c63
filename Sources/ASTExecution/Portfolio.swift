import ASTCore
import ASTMessages

/// One held position, derived from fills.
public struct Position: Sendable, Equatable, Codable {
    public var symbol: Symbol
    /// Signed shares: long > 0, short < 0; never zero (a flat position is removed).
    public var quantity: Quantity
    /// The average entry price. Changes only when the position is increased (or opened, or
    /// flipped); reducing realises profit and loss at this price and leaves it alone.
    public var averagePrice: Price
    /// The exact signed cost of the open shares (`quantity x averagePrice` before rounding;
    /// negative for a short). Reductions release it pro rata and a close releases all of it,
    /// so that realised P&L over a position's life is exact to the 1/10,000.
    public var costBasis: Money

    public init(symbol: Symbol, quantity: Quantity, averagePrice: Price, costBasis: Money) {
        self.symbol = symbol
        self.quantity = quantity
        self.averagePrice = averagePrice
        self.costBasis = costBasis
    }

    enum CodingKeys: String, CodingKey {
        case symbol, quantity
        case averagePrice = "average_price"
        case costBasis = "cost_basis"
    }
}

/// The last price of a symbol and when it was observed.
public struct Mark: Sendable, Equatable, Codable {
    public var price: Price
    public var at: Timestamp

    public init(price: Price, at: Timestamp) {
        self.price = price
        self.at = at
    }
}

/// The account as the system derives it from fills alone: cash, positions, commissions,
/// realised P&L, marks, equity and its peak and start-of-day references.
///
/// It does not deduplicate: feed it through ``OrderBook/apply(_:portfolio:)`` (or the book's
/// repairs), which applies each execution once across any replay.
public struct Portfolio: Sendable, Equatable, Codable {
    public private(set) var startingCash: Money
    /// Starting cash minus what buys cost, plus what sells brought, minus commissions.
    public private(set) var cash: Money
    /// Open positions by symbol (never a flat one).
    public private(set) var positions: [Symbol: Position]
    /// The last mark of every symbol marked, held or not.
    public private(set) var marks: [Symbol: Mark]
    /// Commissions paid, in total.
    public private(set) var commissions: Money
    /// Realised profit and loss, gross of commissions (net = realised - commissions).
    public private(set) var realizedPnL: Money
    /// The highest equity seen, raised by every fill or mark that takes equity higher.
    public private(set) var peakEquity: Money
    /// Equity when ``startDay(at:)`` was last called (starting cash before that).
    public private(set) var startOfDayEquity: Money
    public private(set) var dayStartedAt: Timestamp?
    /// Σ quantity x (mark, or average price without one), kept up to date incrementally so
    /// that a mark costs O(1) with a thousand positions.
    private var positionsValue: Money

    public init(startingCash: Money, dayStartedAt: Timestamp? = nil) {
        self.startingCash = startingCash
        cash = startingCash
        positions = [:]
        marks = [:]
        commissions = .zero
        realizedPnL = .zero
        peakEquity = startingCash
        startOfDayEquity = startingCash
        self.dayStartedAt = dayStartedAt
        positionsValue = .zero
    }

    /// Cash plus every position at its mark (at its average price when it has no mark).
    public var equity: Money { cash + positionsValue }

    /// Σ (quantity x mark - cost basis) over the open positions (held at the ends of 64 bits).
    public var unrealizedPnL: Money {
        Money(units: Int64(clamping: positions.values.reduce(Int128(0)) { $0 + Int128(unrealizedPnL(of: $1).units) }))
    }

    /// The unrealised P&L of the position in `symbol` (zero when flat).
    public func unrealizedPnL(for symbol: Symbol) -> Money {
        positions[symbol].map(unrealizedPnL(of:)) ?? .zero
    }

    /// The signed quantity held in `symbol` (zero when flat).
    public func quantity(of symbol: Symbol) -> Quantity { positions[symbol]?.quantity ?? .zero }

    /// The price a position in `symbol` is valued at: its mark, else its average price.
    public func valuationPrice(of symbol: Symbol) -> Price? {
        marks[symbol]?.price ?? positions[symbol]?.averagePrice
    }

    private func unrealizedPnL(of p: Position) -> Money {
        let value = Int128(Exact.value(p.quantity, at: valuationPrice(of: p.symbol) ?? p.averagePrice).units)
        return Money(units: Int64(clamping: value - Int128(p.costBasis.units)))
    }

    private func contribution(of symbol: Symbol) -> Money {
        guard let p = positions[symbol] else { return .zero }
        return Exact.value(p.quantity, at: marks[symbol]?.price ?? p.averagePrice)
    }

    /// Books one execution: cash, commission, the position (increase, reduce, close or flip
    /// through zero) and the realised P&L of any shares it closes.
    ///
    /// Every sum is checked: when cash, commissions, a position's quantity or cost basis, the
    /// realised P&L, the positions' value or equity would leave 64 bits, nothing changes and the
    /// overflow is returned (the caller fails closed: the fill is a fact it could not book).
    @discardableResult
    public mutating func apply(_ fill: Fill) -> PortfolioOverflow? {
        do throws(PortfolioOverflow) {
            try book(fill)
            return nil
        } catch {
            return error
        }
    }

    private mutating func book(_ fill: Fill) throws(PortfolioOverflow) {
        typealias C = Checked
        let symbol = fill.symbol
        let before = contribution(of: symbol)
        let notional = try C.value(fill.quantity, at: fill.price, "the notional of \(fill.quantity) x \(fill.price)")
        var newCash = try fill.side == .buy ? C.subtract(cash, notional, "cash") : C.add(cash, notional, "cash")
        newCash = try C.subtract(newCash, fill.commission, "cash")
        let newCommissions = try C.add(commissions, fill.commission, "commissions")
        var newRealized = realizedPnL

        let delta = fill.side.signed(fill.quantity)
        let sign: Int64 = delta.shares > 0 ? 1 : -1
        var p = positions[symbol] ?? Position(symbol: symbol, quantity: .zero, averagePrice: .zero, costBasis: .zero)
        if p.quantity.isZero || (p.quantity.shares > 0) == (delta.shares > 0) {
            // Opening or increasing: the only case the average price moves.
            p.costBasis = try C.add(p.costBasis, C.value(delta, at: fill.price, "\(symbol) cost basis"), "\(symbol) cost basis")
            p.quantity = try C.add(p.quantity, delta, "\(symbol) quantity")
            p.averagePrice = Exact.averagePrice(cost: p.costBasis, quantity: p.quantity)
        } else {
            let held = p.quantity.shares == .min ? Int64.max : p.quantity.magnitude.shares
            let closed = min(fill.quantity.shares, held)
            let releasedCost =
                closed == held
                ? p.costBasis : Money(units: Exact.roundedDivide(Int128(p.costBasis.units) * Int128(closed), Int128(held)))
            let proceeds = try C.value(Quantity(-sign * closed), at: fill.price, "\(symbol) proceeds")  // signed like the position
            newRealized = try C.add(realizedPnL, C.subtract(proceeds, releasedCost, "realised P&L"), "realised P&L")
            p.costBasis = try C.subtract(p.costBasis, releasedCost, "\(symbol) cost basis")
            p.quantity = try C.add(p.quantity, Quantity(sign * closed), "\(symbol) quantity")
            let remainder = fill.quantity.shares - closed
            if remainder > 0 {
                // Flipped through zero: the rest opens a new position at the fill's price.
                p.quantity = Quantity(sign * remainder)
                p.costBasis = try C.value(p.quantity, at: fill.price, "\(symbol) cost basis")
                p.averagePrice = fill.price
            }
        }
        // Int64.min shares has no magnitude: as good as an overflow.
        guard p.quantity.shares != .min else { throw PortfolioOverflow("\(symbol) quantity") }
        let after = try p.quantity.isZero ? Money.zero : C.value(p.quantity, at: marks[symbol]?.price ?? p.averagePrice, "\(symbol) value")
        let newValue = try C.add(C.subtract(positionsValue, before, "the positions' value"), after, "the positions' value")
        _ = try C.add(newCash, newValue, "equity")

        cash = newCash
        commissions = newCommissions
        realizedPnL = newRealized
        positions[symbol] = p.quantity.isZero ? nil : p
        positionsValue = newValue
        raisePeak()
    }

    /// Charges a commission that came after its fill was booked (a broker that reported the fill
    /// before its commission): cash down, commissions up, both checked; on overflow nothing changes.
    @discardableResult
    public mutating func charge(commission amount: Money) -> PortfolioOverflow? {
        do throws(PortfolioOverflow) {
            let newCash = try Checked.subtract(cash, amount, "cash")
            let newCommissions = try Checked.add(commissions, amount, "commissions")
            _ = try Checked.add(newCash, positionsValue, "equity")
            cash = newCash
            commissions = newCommissions
            return nil
        } catch {
            return error
        }
    }

    /// Records the last price of `symbol`. A mark older than the one held is ignored; returns
    /// whether it was taken.
    @discardableResult
    public mutating func mark(_ symbol: Symbol, price: Price, at: Timestamp) -> Bool {
        if positions[symbol] == nil {
            // Not held (most symbols, every session): one hash for the mark; a stale one puts the
            // held mark back (its key stays, so nothing else moves).
            if let current = marks.updateValue(Mark(price: price, at: at), forKey: symbol), current.at > at {
                marks[symbol] = current
                return false
            }
            raisePeak()
            return true
        }
        if let current = marks[symbol], current.at > at { return false }
        if let p = positions[symbol] {
            // A mark that would take the positions' value or equity out of 64 bits is not taken.
            let before = contribution(of: symbol)
            do throws(PortfolioOverflow) {
                let after = try Checked.value(p.quantity, at: price, "\(symbol) value")
                let value = try Checked.add(Checked.subtract(positionsValue, before, "the positions' value"), after, "the positions' value")
                _ = try Checked.add(cash, value, "equity")
                positionsValue = value
            } catch {
                return false
            }
        }
        marks[symbol] = Mark(price: price, at: at)
        raisePeak()
        return true
    }

    /// Starts a trading day: the current equity becomes the start-of-day reference.
    public mutating func startDay(at: Timestamp) {
        startOfDayEquity = equity
        dayStartedAt = at
    }

    private mutating func raisePeak() {
        let e = equity
        if e > peakEquity { peakEquity = e }
    }

    /// The portfolio as the risk gate consumes it. `openEntryOrders` comes from the book
    /// (``OrderBook/openEntryOrderCount``); `sectors` labels positions for the sector rule.
    public func snapshot(asOf: Timestamp, openEntryOrders: Int, sectors: [Symbol: String] = [:]) -> PortfolioSnapshot {
        var out: [Symbol: PositionSnapshot] = [:]
        for (symbol, p) in positions {
            out[symbol] = PositionSnapshot(
                quantity: p.quantity, averagePrice: p.averagePrice, sector: sectors[symbol],
                lastMark: valuationPrice(of: symbol) ?? p.averagePrice)
        }
        return PortfolioSnapshot(
            asOf: asOf, cash: cash, equity: equity, peakEquity: peakEquity, startOfDayEquity: startOfDayEquity,
            positions: out, openOrders: openEntryOrders)
    }

    // Codable with positions and marks as arrays sorted by symbol, so that the encoded bytes
    // never depend on hashing order.
    enum CodingKeys: String, CodingKey {
        case cash, positions, marks, commissions
        case startingCash = "starting_cash"
        case realizedPnL = "realized_pnl"
        case peakEquity = "peak_equity"
        case startOfDayEquity = "start_of_day_equity"
        case dayStartedAt = "day_started_at"
    }

    private struct SymbolMark: Codable {
        var symbol: Symbol
        var price: Price
        var at: Timestamp
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        startingCash = try c.decode(Money.self, forKey: .startingCash)
        cash = try c.decode(Money.self, forKey: .cash)
        commissions = try c.decode(Money.self, forKey: .commissions)
        realizedPnL = try c.decode(Money.self, forKey: .realizedPnL)
        peakEquity = try c.decode(Money.self, forKey: .peakEquity)
        startOfDayEquity = try c.decode(Money.self, forKey: .startOfDayEquity)
        dayStartedAt = try c.decodeIfPresent(Timestamp.self, forKey: .dayStartedAt)
        let list = try c.decode([Position].self, forKey: .positions)
        positions = Dictionary(list.map { ($0.symbol, $0) }, uniquingKeysWith: { _, last in last })
        let markList = try c.decode([SymbolMark].self, forKey: .marks)
        marks = Dictionary(markList.map { ($0.symbol, Mark(price: $0.price, at: $0.at)) }, uniquingKeysWith: { _, last in last })
        positionsValue = .zero
        let total = positions.keys.reduce(Int128(0)) { $0 + Int128(contribution(of: $1).units) }
        guard let value = Int64(exactly: total), Int64(exactly: Int128(cash.units) + total) != nil else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: c.codingPath, debugDescription: "the positions' value or equity does not fit 64 bits"))
        }
        positionsValue = Money(units: value)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(startingCash, forKey: .startingCash)
        try c.encode(cash, forKey: .cash)
        try c.encode(commissions, forKey: .commissions)
        try c.encode(realizedPnL, forKey: .realizedPnL)
        try c.encode(peakEquity, forKey: .peakEquity)
        try c.encode(startOfDayEquity, forKey: .startOfDayEquity)
        try c.encodeIfPresent(dayStartedAt, forKey: .dayStartedAt)
        try c.encode(positions.values.sorted { $0.symbol < $1.symbol }, forKey: .positions)
        try c.encode(
            marks.map { SymbolMark(symbol: $0.key, price: $0.value.price, at: $0.value.at) }.sorted { $0.symbol < $1.symbol },
            forKey: .marks)
    }
}

/// An amount of the portfolio that would leave 64 bits: the fill or mark that caused it is not booked.
public struct PortfolioOverflow: Error, Sendable, Equatable, CustomStringConvertible {
    /// What would overflow (`cash`, `AAPL quantity`, `realised P&L` ...).
    public var what: String

    public init(_ what: String) { self.what = what }

    public var description: String { "\(what) would overflow 64 bits" }
}

/// Checked sums for the portfolio: every accumulation of values that came from outside.
enum Checked {
    static func add(_ a: Money, _ b: Money, _ what: @autoclosure () -> String) throws(PortfolioOverflow) -> Money {
        let (u, o) = a.units.addingReportingOverflow(b.units)
        if o { throw PortfolioOverflow(what()) }
        return Money(units: u)
    }

    static func subtract(_ a: Money, _ b: Money, _ what: @autoclosure () -> String) throws(PortfolioOverflow) -> Money {
        let (u, o) = a.units.subtractingReportingOverflow(b.units)
        if o { throw PortfolioOverflow(what()) }
        return Money(units: u)
    }

    static func add(_ a: Quantity, _ b: Quantity, _ what: @autoclosure () -> String) throws(PortfolioOverflow) -> Quantity {
        let (s, o) = a.shares.addingReportingOverflow(b.shares)
        if o { throw PortfolioOverflow(what()) }
        return Quantity(s)
    }

    /// `quantity` x `price`, exactly.
    static func value(_ quantity: Quantity, at price: Price, _ what: @autoclosure () -> String) throws(PortfolioOverflow) -> Money {
        guard let units = Int64(exactly: Int128(quantity.shares) * Int128(price.units)) else { throw PortfolioOverflow(what()) }
        return Money(units: units)
    }
}
