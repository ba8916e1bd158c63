import ASTCore

/// Exact arithmetic for the rules: amounts in 1/10,000 of a dollar as `Int128`, so that sums
/// of products of 64-bit quantities and prices never overflow and never round.
enum Exact {
    /// 100 % in ``Percent`` units.
    static let whole: Int128 = Int128(Percent.unitsPerWhole) * 100

    /// Whether `value` is strictly more than `percent` of `base`, compared without division.
    static func over(_ value: Int128, _ percent: Percent, of base: Int128) -> Bool {
        value * whole > base * Int128(percent.units)
    }

    /// `percent` of `base`, rounded toward zero; zero for a non-positive base.
    static func allowance(_ base: Int128, _ percent: Percent) -> Int128 {
        base <= 0 ? 0 : base * Int128(percent.units) / whole
    }

    static func money(_ units: Int128) -> String { Money(units: Int64(clamping: units)).description }
    static func price(_ units: Int128) -> String { Price(units: Int64(clamping: units)).description }

    /// `part` as a percentage of `base`, rounded toward zero, for explanations.
    static func percent(_ part: Int128, of base: Int128) -> String {
        base == 0 ? "n/a" : "\(Percent(units: Int64(clamping: part * whole / base)))%"
    }

    static func abs(_ v: Int128) -> Int128 { v < 0 ? -v : v }
}

/// The portfolio as the gate sees it: the last snapshot, revalued by marks received since.
struct Book: Sendable, Equatable {
    struct Holding: Sendable, Equatable {
        var quantity: Int128
        var mark: Int128
        var markAt: Timestamp
        var sector: String?
    }

    var asOf: Timestamp
    var equity: Int128
    var peak: Int128
    var startOfDay: Int128
    var openOrders: Int
    /// Non-zero positions only.
    var holdings: [Symbol: Holding]

    /// `nil` when a position's value does not fit in 64 bits or counts are negative: a
    /// snapshot no reconciler could have produced, which the gate does not act on.
    init?(_ s: PortfolioSnapshot) {
        guard s.openOrders >= 0 else { return nil }
        var holdings: [Symbol: Holding] = [:]
        for (symbol, p) in s.positions where !p.quantity.isZero {
            guard p.lastMark.units > 0, (try? p.lastMark.notional(p.quantity)) != nil else { return nil }
            holdings[symbol] = Holding(
                quantity: Int128(p.quantity.shares), mark: Int128(p.lastMark.units), markAt: s.asOf, sector: RiskGate.knownSector(p.sector))
        }
        asOf = s.asOf
        equity = Int128(s.equity.units)
        peak = max(Int128(s.peakEquity.units), equity)
        startOfDay = Int128(s.startOfDayEquity.units)
        openOrders = s.openOrders
        self.holdings = holdings
    }

    /// Revalues a held symbol at a newer mark; `false` when nothing changed.
    mutating func revalue(_ m: MarketMark) -> Bool {
        guard var h = holdings[m.symbol], m.at >= h.markAt, Int64(exactly: h.quantity * Int128(m.price.units)) != nil else {
            return false
        }
        equity += h.quantity * (Int128(m.price.units) - h.mark)
        h.mark = Int128(m.price.units)
        h.markAt = m.at
        holdings[m.symbol] = h
        peak = max(peak, equity)
        return true
    }

    /// The first portfolio limit the book is over, checked in a fixed order (drawdown, daily
    /// loss, leverage, then symbols and sectors in sorted order) so that replay names the same.
    func violation(_ limits: RiskLimits) -> PortfolioViolation? {
        if equity <= 0 {
            return PortfolioViolation(code: .maxDrawdown, detail: "equity \(Exact.money(equity)) is not positive")
        }
        let drawdown = peak - equity
        if drawdown > 0, Exact.over(drawdown, limits.maxDrawdownPct, of: peak) {
            return PortfolioViolation(
                code: .maxDrawdown,
                detail:
                    "equity \(Exact.money(equity)) is \(Exact.percent(drawdown, of: peak)) below peak \(Exact.money(peak)) (max \(limits.maxDrawdownPct)%)"
            )
        }
        if startOfDay <= 0 {
            return PortfolioViolation(
                code: .dailyLossLimit, detail: "start-of-day equity \(Exact.money(startOfDay)) is not positive")
        }
        let loss = startOfDay - equity
        if loss > 0, Exact.over(loss, limits.dailyLossLimitPct, of: startOfDay) {
            return PortfolioViolation(
                code: .dailyLossLimit,
                detail:
                    "equity \(Exact.money(equity)) is \(Exact.percent(loss, of: startOfDay)) below start-of-day \(Exact.money(startOfDay)) (max \(limits.dailyLossLimitPct)%)"
            )
        }
        let symbols = holdings.keys.sorted()
        let gross = symbols.reduce(Int128(0)) { $0 + exposure(of: $1) }
        if Exact.over(gross, limits.maxGrossLeveragePct, of: equity) {
            return PortfolioViolation(
                code: .maxLeverage,
                detail:
                    "gross exposure \(Exact.money(gross)) is \(Exact.percent(gross, of: equity)) of equity \(Exact.money(equity)) (max \(limits.maxGrossLeveragePct)%)"
            )
        }
        for s in symbols where Exact.over(exposure(of: s), limits.maxSymbolConcentrationPct, of: equity) {
            let e = exposure(of: s)
            return PortfolioViolation(
                code: .maxConcentration,
                detail:
                    "\(s) exposure \(Exact.money(e)) is \(Exact.percent(e, of: equity)) of equity \(Exact.money(equity)) (max \(limits.maxSymbolConcentrationPct)%)"
            )
        }
        var sectors: [String: Int128] = [:]
        for s in symbols { sectors[holdings[s]!.sector ?? "", default: 0] += exposure(of: s) }
        // Symbols without a sector are not lumped into one "(unknown)" sector: entries are blocked
        // as REFERENCE_DATA_MISSING until the sectors are known (see RiskGate's rules).
        for sector in sectors.keys.sorted()
        where !sector.isEmpty && Exact.over(sectors[sector]!, limits.maxSectorConcentrationPct, of: equity) {
            let e = sectors[sector]!
            return PortfolioViolation(
                code: .maxSectorConcentration,
                detail:
                    "sector \(RiskGate.sectorName(sector)) exposure \(Exact.money(e)) is \(Exact.percent(e, of: equity)) of equity \(Exact.money(equity)) (max \(limits.maxSectorConcentrationPct)%)"
            )
        }
        return nil
    }

    func exposure(of symbol: Symbol) -> Int128 {
        guard let h = holdings[symbol] else { return 0 }
        return Exact.abs(h.quantity) * h.mark
    }
}
