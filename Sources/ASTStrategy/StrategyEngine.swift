import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMessages

/// A strategy's bracket for one candidate, before sizing: the engine sizes it, puts its prices
/// on the cent grid and turns it into an ``IntentGroup``.
public struct TradePlan: Sendable, Equatable {
    public var side: Side
    /// The entry's limit price.
    public var entry: Price
    public var stopLoss: Price
    public var takeProfit: Price?
    /// The ATR (dollars) behind the stop, for volatility-scaled sizing and the report.
    public var atr: Double?
    /// One line for the report: how the prices were reached.
    public var rationale: String

    public init(side: Side = .buy, entry: Price, stopLoss: Price, takeProfit: Price?, atr: Double?, rationale: String) {
        self.side = side
        self.entry = entry
        self.stopLoss = stopLoss
        self.takeProfit = takeProfit
        self.atr = atr
        self.rationale = rationale
    }
}

/// A strategy's answer for one candidate.
public enum StrategyVerdict: Sendable, Equatable {
    case trade(TradePlan)
    /// No trade, and why.
    case pass(String)
}

/// A strategy: a plugin (see ``PipelinePlugin``) turning a candidate that passed the filters and
/// the event guard into a bracket plan. The engine does the rest (sizing, rounding, ids).
public protocol Strategy: PipelinePlugin {
    /// The id that goes into intent ids (`<date>.<id>.<symbol>`): 1 to 32 lowercase letters,
    /// digits, `_` or `-`. Valid after `validate`.
    var id: String { get }
    /// The indicators ``plan(_:_:)`` reads.
    var indicators: [IndicatorSpec] { get }
    /// The lifecycle's execute for one candidate.
    func plan(_ candidate: Candidate, _ context: SymbolContext) -> StrategyVerdict
}

/// The demo strategy: a long bracket from the last close and the ATR. **Long only.**
///
/// entry = last close × (1 + `entry_offset_pct`/100), to the nearest cent;
/// stop = entry − `stop_atr_multiple` × ATR(`atr_period`), rounded down to the cent;
/// target = entry + `reward_multiple` × (entry − stop), to the nearest cent.
/// Defaults: offset 0, 2 × ATR(14), reward 2; `id` defaults to `bracket`.
public struct BracketStrategy: Strategy {
    public static let pluginName = "bracket"
    public var name: String { Self.pluginName }
    public private(set) var id = "bracket"
    public private(set) var atrPeriod = 14
    public private(set) var stopATRMultiple = 2.0
    public private(set) var rewardMultiple = 2.0
    public private(set) var entryOffsetPct = 0.0

    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "strategy \(name)", parameters)
        id = r.string("id", default: "bracket", expected: "1 to 32 lowercase letters, digits, _ or -", isValid: IntentNaming.isStrategyID)
        atrPeriod = r.int("atr_period", default: 14, in: 1...IndicatorSpec.maximumPeriod)
        stopATRMultiple = r.double("stop_atr_multiple", default: 2, in: 0.1...20)
        rewardMultiple = r.double("reward_multiple", default: 2, in: 0.1...20)
        entryOffsetPct = r.double("entry_offset_pct", default: 0, in: -10...10)
        try r.finish()
    }

    public var indicators: [IndicatorSpec] { [.atr(period: atrPeriod)] }

    public func plan(_ candidate: Candidate, _ context: SymbolContext) -> StrategyVerdict {
        guard let close = context.lastClose, close.isPositive else { return .pass("no positive last close") }
        guard let atr = context.indicators.value(.atr(period: atrPeriod)), atr > 0 else {
            return .pass("ATR\(atrPeriod) is not available (too little history)")
        }
        let offset = Int64((Double(close.units) * entryOffsetPct / 100).rounded())
        let entry = PriceGrid.nearestCent(Price(units: close.units + offset))
        let distance = Int64((stopATRMultiple * atr * Double(Price.unitsPerDollar)).rounded(.up))
        let stop = PriceGrid.centBelow(Price(units: entry.units - distance))
        let risk = entry.units - stop.units
        let target = PriceGrid.nearestCent(Price(units: entry.units + Int64((rewardMultiple * Double(risk)).rounded())))
        return .trade(
            TradePlan(
                side: .buy, entry: entry, stopLoss: stop, takeProfit: target, atr: atr,
                rationale:
                    "entry \(entry) (close \(close)\(entryOffsetPct == 0 ? "" : " \(entryOffsetPct > 0 ? "+" : "")\(f(entryOffsetPct))%")), "
                    + "stop entry − \(f(stopATRMultiple)) × ATR\(atrPeriod) \(f(atr)) = \(stop), target entry + \(f(rewardMultiple))R = \(target)"
            ))
    }
}

/// Rounding of prices to the cent grid (1/100 of a dollar), the tick of U.S. equities above $1.
public enum PriceGrid {
    static let centUnits = Price.unitsPerDollar / 100

    /// To the nearest cent, halves away from zero.
    public static func nearestCent(_ p: Price) -> Price {
        let c = centUnits
        let q = (p.units + (p.units >= 0 ? c / 2 : -c / 2)) / c
        return Price(units: q * c)
    }

    /// The cent at or below `p`.
    public static func centBelow(_ p: Price) -> Price {
        let c = centUnits
        let q = p.units >= 0 ? p.units / c : (p.units - c + 1) / c
        return Price(units: q * c)
    }

    /// The cent at or above `p`.
    public static func centAbove(_ p: Price) -> Price { -centBelow(-p) }

    public static func isOnGrid(_ p: Price) -> Bool { p.units % centUnits == 0 }
}

/// Deterministic intent ids: `<date>.<strategy id>.<symbol>` (`2026-03-02.macross.AAPL`), so that
/// a re-run of the same scan proposes the same ids and the risk gate and the broker recognise them.
public enum IntentNaming {
    /// Whether `id` can name a strategy in an intent id: 1 to 32 of `a-z 0-9 _ -`.
    public static func isStrategyID(_ id: String) -> Bool {
        (1...32).contains(id.utf8.count)
            && id.utf8.allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                    || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
            }
    }

    /// The id, or `nil` if the strategy id is not valid.
    public static func intentID(date: LocalDate, strategy: String, symbol: Symbol) -> IntentID? {
        guard isStrategyID(strategy) else { return nil }
        return IntentID(validating: "\(date).\(strategy).\(symbol.rawValue)")
    }
}

/// A candidate the strategy engine did not turn into an intent, and why.
public struct StrategySkip: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var detector: String
    /// `STRATEGY_PASSED`, `INVALID_PLAN`, `ZERO_SHARES`, `DUPLICATE_SYMBOL`, `INVALID_INTENT_ID`.
    public var code: String
    public var reason: String
}

/// What the strategy engine produced for one scan.
public struct StrategyOutput: Sendable, Equatable {
    /// Sorted by intent id.
    public var intents: [IntentGroup] = []
    /// The sizing of every intent and of every zero-share candidate, sorted by symbol.
    public var sizing: [SizingDetail] = []
    /// Sorted by symbol, then detector.
    public var skipped: [StrategySkip] = []
    /// The rationale of each intent, by intent id (sorted).
    public var rationales: [IntentRationale] = []
}

/// Why an intent's prices are what they are.
public struct IntentRationale: Sendable, Equatable, Codable {
    public var intent: IntentID
    public var detector: String
    public var rationale: String
}

/// The strategy engine: candidate -> strategy plan -> sizing -> bracket ``IntentGroup`` for the
/// risk gate.
///
/// Candidates are handled in symbol order (then in the order the detectors are configured); a
/// symbol gets at most one intent per scan, from the first candidate that yields one. Every intent
/// commits its notional against the cash available to the next (see ``SizingConfig/capToCash``).
/// Prices are put on the cent grid: entry and target to the nearest cent, the stop down to the
/// cent (away from the entry). **Long only**: a sell plan is skipped as `INVALID_PLAN`, and a buy
/// plan must have 0 < stop < entry < target.
public enum StrategyEngine {
    /// One candidate with the context it was found in.
    public struct Input: Sendable {
        public var candidate: Candidate
        public var context: SymbolContext
        /// The detector's position in the configuration, for the order within a symbol.
        public var detectorRank: Int

        public init(candidate: Candidate, context: SymbolContext, detectorRank: Int = 0) {
            self.candidate = candidate
            self.context = context
            self.detectorRank = detectorRank
        }
    }

    public static func run(
        strategy: any Strategy, inputs: [Input], sizer: PositionSizer, portfolio: PortfolioSnapshot,
        date: LocalDate, now: Timestamp
    ) -> StrategyOutput {
        var out = StrategyOutput()
        var allocation = AllocationContext(portfolio: portfolio)
        // The cash, or a margin account's buying power.
        var cash = sizer.config.spendable(cash: portfolio.cash, equity: portfolio.equity, exposure: allocation.exposure)
        var done: Set<Symbol> = []
        let ordered = inputs.sorted { ($0.candidate.symbol, $0.detectorRank) < ($1.candidate.symbol, $1.detectorRank) }
        for input in ordered {
            let c = input.candidate
            if done.contains(c.symbol) {
                out.skipped.append(
                    StrategySkip(
                        symbol: c.symbol, detector: c.detector, code: "DUPLICATE_SYMBOL",
                        reason: "an intent for \(c.symbol) was already made from an earlier detector"))
                continue
            }
            let made = entry(
                input, strategy: strategy, sizer: sizer, equity: portfolio.equity, cash: cash, allocation: allocation, date: date, now: now)
            if let sizing = made.sizing { out.sizing.append(sizing) }
            switch made.outcome {
            case .skip(let s): out.skipped.append(s)
            case .intent(let intent, let rationale):
                cash = cash - (made.sizing?.notional ?? .zero)
                allocation.commit(made.sizing?.notional ?? .zero)
                done.insert(c.symbol)
                out.intents.append(intent)
                out.rationales.append(rationale)
            }
        }
        out.intents.sort { $0.id < $1.id }
        out.rationales.sort { $0.intent < $1.intent }
        return out
    }

    /// What ``entry(_:strategy:sizer:equity:cash:allocation:date:now:)`` made of one candidate.
    public enum Outcome: Sendable, Equatable {
        case intent(IntentGroup, IntentRationale)
        case skip(StrategySkip)
    }

    /// One candidate through the strategy's plan, the cent grid and the sizer, with `cash` not
    /// yet committed and the account's `allocation`: the intent, or why none (and the sizing,
    /// when it was reached). The one path every entry takes (``run(strategy:inputs:sizer:portfolio:date:now:)``
    /// and the rotation's entries).
    public static func entry(
        _ input: Input, strategy: any Strategy, sizer: PositionSizer, equity: Money, cash: Money, allocation: AllocationContext,
        date: LocalDate, now: Timestamp
    ) -> (outcome: Outcome, sizing: SizingDetail?) {
        let c = input.candidate
        func skip(_ code: String, _ reason: String) -> Outcome {
            .skip(StrategySkip(symbol: c.symbol, detector: c.detector, code: code, reason: reason))
        }
        let plan: TradePlan
        switch strategy.plan(c, input.context) {
        case .pass(let why): return (skip("STRATEGY_PASSED", why), nil)
        case .trade(let p): plan = p
        }
        guard plan.side == .buy else {
            return (skip("INVALID_PLAN", "the pipeline is long-only: a \(plan.side) plan is not accepted"), nil)
        }
        let entry = PriceGrid.nearestCent(plan.entry)
        let stop = PriceGrid.centBelow(plan.stopLoss)
        let target = plan.takeProfit.map(PriceGrid.nearestCent)
        guard entry.isPositive, stop.isPositive, stop < entry, target.map({ $0 > entry }) ?? true else {
            return (
                skip(
                    "INVALID_PLAN",
                    "buy plan with entry \(entry), stop \(stop), target \(target.map(String.init(describing:)) ?? "none") "
                        + "is not a valid bracket (a buy needs 0 < stop < entry < target)"), nil
            )
        }
        guard let id = IntentNaming.intentID(date: date, strategy: strategy.id, symbol: c.symbol) else {
            return (skip("INVALID_INTENT_ID", "strategy id '\(strategy.id)' cannot form an intent id"), nil)
        }
        let sizing = sizer.size(
            symbol: c.symbol, entry: entry, stopLoss: stop, atr: plan.atr, equity: equity, availableCash: cash, metrics: c.metrics,
            allocation: allocation)
        guard !sizing.shares.isZero else { return (skip("ZERO_SHARES", sizing.explanation), sizing) }
        let intent = IntentGroup(
            id: id, symbol: c.symbol, sector: input.context.info.sector, side: plan.side, quantity: sizing.shares,
            entry: .limit(entry), stopLoss: stop, takeProfit: target, createdAt: now)
        return (.intent(intent, IntentRationale(intent: id, detector: c.detector, rationale: plan.rationale)), sizing)
    }
}
