import ASTCore

/// One reduce-only order the 14:30 safe-reducing task proposes: sell part (or all) of a long,
/// buy back part (or all) of a short, never more than is held.
public struct ReductionProposal: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var sector: String?
    /// The side that closes the position.
    public var side: Side
    /// Whole shares, at least 1 and at most the position's size.
    public var quantity: Quantity
    /// The signed position before the reduction.
    public var position: Quantity
    /// The mark the reduction was sized at.
    public var mark: Price
    /// The limit that asked for this reduction first (the largest violation involving the symbol).
    public var code: ReasonCode
    /// Every violation that asked for shares of this symbol, in words, in the order handled.
    public var reason: String

    public init(
        symbol: Symbol, sector: String?, side: Side, quantity: Quantity, position: Quantity, mark: Price, code: ReasonCode,
        reason: String
    ) {
        self.symbol = symbol
        self.sector = sector
        self.side = side
        self.quantity = quantity
        self.position = position
        self.mark = mark
        self.code = code
        self.reason = reason
    }
}

/// A violated (or uncheckable) portfolio limit for which no reduction is proposed, and why.
public struct UnreducibleViolation: Sendable, Equatable, Codable {
    public var code: ReasonCode
    /// What the limit is about: a symbol, a sector, or `portfolio`.
    public var subject: String
    public var reason: String

    public init(code: ReasonCode, subject: String, reason: String) {
        self.code = code
        self.subject = subject
        self.reason = reason
    }
}

/// What the 14:30 task does about the portfolio limits: reduce-only proposals (largest violation
/// first) and the violations it leaves alone, each with its reason.
public struct ReductionPlan: Sendable, Equatable, Codable {
    public var state: TradingState
    public var proposals: [ReductionProposal]
    public var unreducible: [UnreducibleViolation]

    public init(state: TradingState, proposals: [ReductionProposal] = [], unreducible: [UnreducibleViolation] = []) {
        self.state = state
        self.proposals = proposals
        self.unreducible = unreducible
    }

    /// One line for the schedule record and the log.
    public var summary: String {
        guard state == .safeReducing else { return "\(state): no safe reducing" }
        var parts: [String] = []
        parts.append(
            proposals.isEmpty
                ? "no reduction proposed"
                : "reduce " + proposals.map { "\($0.symbol) \($0.side) \($0.quantity) (\($0.code))" }.joined(separator: ", "))
        if !unreducible.isEmpty {
            parts.append("not reducible: " + unreducible.map { "\($0.code) \($0.subject): \($0.reason)" }.joined(separator: "; "))
        }
        return parts.joined(separator: "; ")
    }

    /// The proposals as reduce-only intent groups for the risk gate: ids `<day>.safe-reduce.<symbol>`
    /// (one per symbol and day, so a re-sent intent gets its earlier decision), market orders
    /// without stop or take profit, expiring at `expiresAt` (the session's close).
    public func intents(day: String, createdAt: Timestamp, expiresAt: Timestamp?) -> [IntentGroup] {
        proposals.compactMap { p in
            guard let id = IntentID(validating: "\(day).\(SafeReducing.strategyName).\(p.symbol.rawValue)") else { return nil }
            return IntentGroup(
                id: id, symbol: p.symbol, sector: p.sector, side: p.side, quantity: p.quantity, entry: .market, stopLoss: nil,
                takeProfit: nil, createdAt: createdAt, expiresAt: expiresAt)
        }
    }
}

/// The pure core of the 14:30 safe-reducing task: which reduce-only orders bring the portfolio
/// back within the limits it violates (the risk gate's portfolio limits, ``RiskLimits``).
///
/// - Only in SAFE_REDUCING; ACTIVE and HALTED propose nothing.
/// - Handles the limits a reduction can restore: gross leverage, symbol concentration and
///   sector concentration, each measured as the gate measures it (|shares| x mark against equity,
///   inclusive limits, exact arithmetic). Selling at the mark leaves equity unchanged, so the
///   equity-based limits (drawdown, daily loss, equity not positive) are reported unreducible:
///   no order brings them back.
/// - Largest violation first (the amount over its allowance; ties: leverage, then symbols,
///   then sectors, each by name); within a sector or the whole book the largest exposure is cut
///   first (ties by symbol), in whole shares, rounding the shares up so that the limit holds at
///   the mark; never more than the position (no short from a long, no long from a short).
/// - Fail closed: a position without a usable mark makes every limit it enters uncheckable
///   (reported, nothing proposed for it); a sector rule is not computed for symbols without a
///   sector (as the gate does).
/// - One proposal per symbol (the shares of every violation that asked for it added up), in the
///   order the symbols were first cut.
public enum SafeReducing {
    /// The strategy component of reduction intent ids.
    public static let strategyName = "safe-reduce"

    /// The plan for `portfolio` (revalued at `marks` where given) under `limits` while the gate
    /// is in `state`.
    public static func plan(state: TradingState, portfolio: PortfolioSnapshot, marks: [Symbol: Price] = [:], limits: RiskLimits)
        -> ReductionPlan
    {
        var plan = ReductionPlan(state: state)
        guard state == .safeReducing else { return plan }

        // The book: sorted symbols, each with its mark (nil when unusable) and sector.
        struct Line {
            var symbol: Symbol
            var quantity: Int128
            var mark: Int128?
            var sector: String?
        }
        var lines: [Line] = []
        var equity = Int128(portfolio.equity.units)
        for symbol in portfolio.positions.keys.sorted() {
            let p = portfolio.positions[symbol]!
            guard !p.quantity.isZero else { continue }
            let quantity = Int128(p.quantity.shares)
            var mark: Int128? = p.lastMark.units > 0 ? Int128(p.lastMark.units) : nil
            if let fresh = marks[symbol] {
                if fresh.units > 0, let old = mark {
                    equity += quantity * (Int128(fresh.units) - old)
                    mark = Int128(fresh.units)
                } else {
                    mark = nil
                }
            }
            // A value that does not fit 64 bits is no snapshot a reconciler could have made: unvalued.
            if let m = mark, Int64(exactly: Exact.abs(quantity) * m) == nil { mark = nil }
            let sector = RiskGate.knownSector(p.sector)
            lines.append(Line(symbol: symbol, quantity: quantity, mark: mark, sector: sector))
        }
        let unmarked = lines.filter { $0.mark == nil }.map(\.symbol)
        for s in unmarked {
            plan.unreducible.append(
                UnreducibleViolation(
                    code: .noMarketData, subject: s.rawValue,
                    reason:
                        "no usable mark for \(s) (none, not positive, or a value over 64 bits): its exposure cannot be valued; no reduction is proposed for it"
                ))
        }

        // Equity-based limits: a reduction at the mark does not change equity.
        if equity <= 0 {
            plan.unreducible.append(
                UnreducibleViolation(
                    code: .maxDrawdown, subject: "portfolio",
                    reason: "equity \(Exact.money(equity)) is not positive: no limit can be measured; nothing proposed"))
            return plan
        }
        let peak = max(Int128(portfolio.peakEquity.units), equity)
        let drawdown = peak - equity
        if drawdown > 0, Exact.over(drawdown, limits.maxDrawdownPct, of: peak) {
            plan.unreducible.append(
                UnreducibleViolation(
                    code: .maxDrawdown, subject: "portfolio",
                    reason:
                        "equity \(Exact.money(equity)) is \(Exact.percent(drawdown, of: peak)) below peak \(Exact.money(peak)) (max \(limits.maxDrawdownPct)%): a loss already taken, which reducing positions at their marks does not undo"
                ))
        }
        let startOfDay = Int128(portfolio.startOfDayEquity.units)
        let loss = startOfDay - equity
        if startOfDay > 0, loss > 0, Exact.over(loss, limits.dailyLossLimitPct, of: startOfDay) {
            plan.unreducible.append(
                UnreducibleViolation(
                    code: .dailyLossLimit, subject: "portfolio",
                    reason:
                        "equity \(Exact.money(equity)) is \(Exact.percent(loss, of: startOfDay)) below start-of-day \(Exact.money(startOfDay)) (max \(limits.dailyLossLimitPct)%): a loss already taken, which reducing positions at their marks does not undo"
                ))
        }

        // Exposure limits, largest violation first, until none is left (each step clears the
        // violation it handles and only lowers exposures, so at most one step per limit).
        enum Kind: Int, Comparable {
            case leverage = 0, symbol = 1, sector = 2
            static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
        }
        struct Violation {
            var kind: Kind
            var subject: String
            /// Exposure x 100 % minus equity x limit, in Percent-scaled units (> 0).
            var excess: Int128
            var members: [Int]
            var percent: Percent
        }
        func exposure(_ i: Int) -> Int128 { Exact.abs(lines[i].quantity) * (lines[i].mark ?? 0) }
        var reported = Set<String>()
        var order: [Symbol] = []
        var bySymbol: [Symbol: ReductionProposal] = [:]
        let steps = 1 + lines.count + Set(lines.compactMap(\.sector)).count
        for _ in 0..<steps {
            var violations: [Violation] = []
            func check(_ kind: Kind, _ subject: String, _ members: [Int], _ percent: Percent) {
                let held = members.filter { lines[$0].quantity != 0 }
                guard !held.isEmpty else { return }
                let code = SafeReducing.code(kindRaw: kind.rawValue)
                if held.contains(where: { lines[$0].mark == nil }) {
                    let key = "\(code):\(subject)"
                    if kind != .symbol, reported.insert(key).inserted {
                        let missing = held.filter { lines[$0].mark == nil }.map { lines[$0].symbol.rawValue }.joined(separator: ", ")
                        plan.unreducible.append(
                            UnreducibleViolation(
                                code: code, subject: subject,
                                reason: "cannot be checked without a mark for \(missing); no reduction is proposed for it"))
                    }
                    return
                }
                let total = held.reduce(Int128(0)) { $0 + exposure($1) }
                let excess = total * Exact.whole - equity * Int128(percent.units)
                if excess > 0 {
                    violations.append(Violation(kind: kind, subject: subject, excess: excess, members: held, percent: percent))
                }
            }
            check(.leverage, "portfolio", Array(lines.indices), limits.maxGrossLeveragePct)
            for i in lines.indices { check(.symbol, lines[i].symbol.rawValue, [i], limits.maxSymbolConcentrationPct) }
            var sectors: [String: [Int]] = [:]
            for i in lines.indices { if let s = lines[i].sector { sectors[s, default: []].append(i) } }
            for s in sectors.keys.sorted() { check(.sector, s, sectors[s]!, limits.maxSectorConcentrationPct) }
            guard
                let worst = violations.min(by: { a, b in
                    (a.excess, b.kind, b.subject) > (b.excess, a.kind, a.subject)
                })
            else { break }

            let code = SafeReducing.code(kindRaw: worst.kind.rawValue)
            let total = worst.members.reduce(Int128(0)) { $0 + exposure($1) }
            let allowance = Exact.allowance(equity, worst.percent)
            let what =
                switch worst.kind {
                case .leverage: "gross exposure"
                case .symbol: "\(worst.subject) exposure"
                case .sector: "sector \(worst.subject) exposure"
                }
            let because =
                "\(code): \(what) \(Exact.money(total)) is \(Exact.percent(total, of: equity)) of equity \(Exact.money(equity)) (max \(worst.percent)%, \(Exact.money(allowance)))"
            // Largest exposure first, ties by symbol (members are in symbol order).
            let cutOrder = worst.members.enumerated().sorted { a, b in
                let (ea, eb) = (exposure(a.element), exposure(b.element))
                return ea != eb ? ea > eb : a.offset < b.offset
            }.map(\.element)
            var need = worst.excess
            for i in cutOrder where need > 0 {
                let mark = lines[i].mark!
                let held = Exact.abs(lines[i].quantity)
                let perShare = mark * Exact.whole
                let shares = min(held, (need + perShare - 1) / perShare)
                guard shares > 0 else { continue }
                need -= shares * perShare
                let symbol = lines[i].symbol
                let before = lines[i].quantity
                lines[i].quantity += before > 0 ? -shares : shares
                if var p = bySymbol[symbol] {
                    p.quantity = Quantity(p.quantity.shares + Int64(shares))
                    p.reason += "; " + because
                    bySymbol[symbol] = p
                } else {
                    order.append(symbol)
                    bySymbol[symbol] = ReductionProposal(
                        symbol: symbol, sector: lines[i].sector, side: before > 0 ? .sell : .buy, quantity: Quantity(Int64(shares)),
                        position: Quantity(Int64(before)), mark: Price(units: Int64(mark)), code: code, reason: because)
                }
            }
        }
        plan.proposals = order.map { bySymbol[$0]! }
        return plan
    }

    static func code(kindRaw: Int) -> ReasonCode {
        switch kindRaw {
        case 0: .maxLeverage
        case 1: .maxConcentration
        default: .maxSectorConcentration
        }
    }
}
