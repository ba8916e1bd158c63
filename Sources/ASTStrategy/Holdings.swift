import ASTCalendar
import ASTCore
import ASTMessages

/// What the strategy remembers of each held long's entry — the entry intent that opened it, the
/// session of its first fill, the shares that entry bought, its protective stop — from which the
/// 09:00 scan gives the exit rules their ``Holding``s.
///
/// One piece of code for both drivers of the engine: the backtest engine and ast-strategy feed
/// it the same three things in the same order, and so compute the same holdings:
/// - ``note(_:)`` the stops of the scan's intents (``EntryStops``), before any is submitted;
/// - ``apply(_:)`` every fill the reconciler's book applies (the reconciler sends ast-strategy
///   each fill it applies; the engine passes those its in-process reconciler applies);
/// - ``reconcile(with:)`` every portfolio the strategy takes (a newer ``PortfolioSnapshot``).
///
/// A buy fill of a bracket's entry leg (`<intent>.E`) on a symbol without a record opens one;
/// further fills of that entry add to its initial shares; every fill moves ``Record/held``; a
/// record whose held shares reach zero, or whose symbol a portfolio shows not held long, ends.
/// ``view(portfolio:date:calendar:)`` gives a holding only for a position whose record agrees
/// with the portfolio's shares: a position without a record (opened before the records began,
/// or by a fill the strategy never heard) or with a record that disagrees is *unknown*, never a
/// fresh entry, and the rules that need a holding do not act on it (the scan's notes say why).
/// Pure, `Codable` (ast-strategy journals it in its start-up marks) and deterministic.
public struct HoldingsLedger: Sendable, Equatable, Codable {
    /// One held long's entry.
    public struct Record: Sendable, Equatable, Codable {
        public var symbol: Symbol
        /// The entry intent whose fill opened the position.
        public var intent: IntentID
        /// The New York session date of that first fill.
        public var entryDate: LocalDate
        /// The shares the entry's fills bought.
        public var initialQuantity: Quantity
        /// The entry intent's stop loss (R = average price − stop); nil when it had none.
        public var initialStop: Price?
        /// Shares held by the fills heard since the entry: buys − sells.
        public var held: Quantity

        enum CodingKeys: String, CodingKey {
            case symbol, intent, held
            case entryDate = "entry_date"
            case initialQuantity = "initial_quantity"
            case initialStop = "initial_stop"
        }
    }

    /// The stops of one scan's buy intents, as ast-strategy journals them before it submits any.
    public struct EntryStops: Sendable, Equatable, Codable {
        /// The scan's session.
        public var date: LocalDate
        public var stops: [Stop]

        /// One intent's stop.
        public struct Stop: Sendable, Equatable, Codable {
            public var intent: IntentID
            public var stop: Price
        }

        /// The buy intents of `intents` that carry a stop loss, in id order.
        public init(intents: [IntentGroup], date: LocalDate) {
            self.date = date
            stops = intents.filter { $0.side == .buy }.compactMap { g in g.stopLoss.map { Stop(intent: g.id, stop: $0) } }
                .sorted { $0.intent < $1.intent }
        }
    }

    struct NotedStop: Sendable, Equatable, Codable {
        var intent: IntentID
        var date: LocalDate
        var stop: Price
    }

    /// The records, by symbol.
    public private(set) var records: [Symbol: Record] = [:]
    /// The stops of the intents of the last ``stopMemoryDays`` days, by intent.
    private(set) var stops: [IntentID: NotedStop] = [:]

    /// How long an intent's stop is kept for a fill of its entry (a day order fills on its
    /// session; a stop entry is good till cancelled, and the pre-close cleanup cancels it
    /// unless partly filled).
    public static let stopMemoryDays = 31

    public init() {}

    /// Notes the stops of a scan's intents (before they are submitted), and forgets those noted
    /// more than ``stopMemoryDays`` days before `entryStops.date`.
    public mutating func note(_ entryStops: EntryStops) {
        let oldest = entryStops.date.adding(days: -Self.stopMemoryDays)
        stops = stops.filter { $0.value.date >= oldest }
        for s in entryStops.stops { stops[s.intent] = NotedStop(intent: s.intent, date: entryStops.date, stop: s.stop) }
    }

    /// The entry intent of a client order id `<intent>.E`, nil for any other leg.
    static func entryIntent(_ id: ClientOrderID) -> IntentID? {
        let raw = id.rawValue
        guard raw.hasSuffix(".E"), let intent = IntentID(validating: String(raw.dropLast(2))),
            ClientOrderID(intent: intent, leg: .entry) == id
        else { return nil }
        return intent
    }

    /// One fill the reconciler's book applied (each once, in the order applied).
    public mutating func apply(_ fill: Fill) {
        guard fill.quantity > .zero else { return }
        if var r = records[fill.symbol] {
            let (held, overflow) = r.held.shares.addingReportingOverflow(fill.side.sign * fill.quantity.shares)
            guard !overflow, held > 0 else {
                // Flat (or short): the holding ended. An overflow cannot be a real position: no
                // record (the rules needing one hold) rather than a wrong one.
                records[fill.symbol] = nil
                return
            }
            r.held = Quantity(held)
            if fill.side == .buy, Self.entryIntent(fill.clientOrderID) == r.intent {
                let (initial, o) = r.initialQuantity.shares.addingReportingOverflow(fill.quantity.shares)
                guard !o else {
                    records[fill.symbol] = nil
                    return
                }
                r.initialQuantity = Quantity(initial)
            }
            records[fill.symbol] = r
        } else if fill.side == .buy, let intent = Self.entryIntent(fill.clientOrderID) {
            records[fill.symbol] = Record(
                symbol: fill.symbol, intent: intent, entryDate: NewYorkTime.local(fill.at).date, initialQuantity: fill.quantity,
                initialStop: stops[intent]?.stop, held: fill.quantity)
        }
    }

    /// Ends the records of symbols `portfolio` does not hold long (a close the strategy did not
    /// hear of, as after a fill it missed: the record would otherwise stay wrong for good).
    public mutating func reconcile(with portfolio: PortfolioSnapshot) {
        guard records.contains(where: { !((portfolio.positions[$0.key]?.quantity ?? .zero) > .zero) }) else { return }
        records = records.filter { (portfolio.positions[$0.key]?.quantity ?? .zero) > .zero }
    }

    /// The holdings the scan of `date` gives the exit rules, for every long `portfolio` holds:
    /// a ``Holding`` when its record agrees with the portfolio's shares, else why it is unknown.
    public func view(portfolio: PortfolioSnapshot, date: LocalDate, calendar: TradingCalendar) -> HoldingsView {
        var view = HoldingsView()
        for (symbol, position) in portfolio.positions where position.quantity > .zero {
            guard let r = records[symbol] else {
                view.unknown[symbol] =
                    "no entry record (the position was opened before the strategy's records begin, or by a fill it did not hear of)"
                continue
            }
            guard r.held == position.quantity else {
                view.unknown[symbol] =
                    "its entry record (\(r.intent), \(r.entryDate)) accounts for \(r.held) shares, the portfolio holds \(position.quantity)"
                continue
            }
            let held = r.entryDate < date ? calendar.sessions(from: r.entryDate.adding(days: 1), to: date).count : 0
            view.holdings[symbol] = Holding(
                entryDate: r.entryDate, sessionsHeld: held, initialQuantity: r.initialQuantity, initialStop: r.initialStop)
        }
        return view
    }

    // Sorted arrays on the wire: the same ledger always encodes to the same bytes.
    enum CodingKeys: String, CodingKey { case records, stops }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let records = try c.decode([Record].self, forKey: .records)
        let stops = try c.decode([NotedStop].self, forKey: .stops)
        self.records = Dictionary(records.map { ($0.symbol, $0) }, uniquingKeysWith: { _, last in last })
        self.stops = Dictionary(stops.map { ($0.intent, $0) }, uniquingKeysWith: { _, last in last })
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(records.values.sorted { $0.symbol < $1.symbol }, forKey: .records)
        try c.encode(stops.values.sorted { $0.intent < $1.intent }, forKey: .stops)
    }
}

/// What ``HoldingsLedger/view(portfolio:date:calendar:)`` gives the scan (``ScanInput/holdings``
/// and ``ScanInput/unknownHoldings``).
public struct HoldingsView: Sendable, Equatable {
    public var holdings: [Symbol: Holding] = [:]
    /// Held longs without a usable entry record, and why.
    public var unknown: [Symbol: String] = [:]

    public init() {}
}
