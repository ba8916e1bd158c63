import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMessages

/// What the pipeline knows of a held position beyond the portfolio snapshot: when it was entered,
/// how many shares the entry bought and with which protective stop. Both drivers derive it from
/// the fills with one ``HoldingsLedger`` (``ScanInput/holdings``); without it the exit rules that
/// need it hold (when in doubt, do nothing: the bracket's stop stays at the broker).
public struct Holding: Sendable, Equatable {
    /// The session of the entry's first fill.
    public var entryDate: LocalDate
    /// Sessions from the entry's session to the scan's (1 on the session after the entry).
    public var sessionsHeld: Int
    /// The shares the entry bought.
    public var initialQuantity: Quantity
    /// The entry's protective stop (R = average price − stop), nil when it had none.
    public var initialStop: Price?

    public init(entryDate: LocalDate, sessionsHeld: Int, initialQuantity: Quantity, initialStop: Price?) {
        self.entryDate = entryDate
        self.sessionsHeld = sessionsHeld
        self.initialQuantity = initialQuantity
        self.initialStop = initialStop
    }
}

/// One held long position as an exit rule reviews it at the 09:00 scan (from the bars before the
/// session only: no look-ahead).
public struct ExitPosition: Sendable, Equatable {
    public var symbol: Symbol
    /// Shares held (> 0: exit rules review longs only).
    public var quantity: Quantity
    public var averagePrice: Price
    /// The last close before the session.
    public var lastClose: Price
    public var holding: Holding?

    public init(symbol: Symbol, quantity: Quantity, averagePrice: Price, lastClose: Price, holding: Holding?) {
        self.symbol = symbol
        self.quantity = quantity
        self.averagePrice = averagePrice
        self.lastClose = lastClose
        self.holding = holding
    }

    /// R, the entry's risk per share: average price − initial stop (nil when unknown or not positive).
    public var initialRisk: Int64? {
        guard let stop = holding?.initialStop, averagePrice.units > stop.units else { return nil }
        return averagePrice.units - stop.units
    }

    /// (last close − average price) / R; nil without R.
    public var rMultiple: Double? {
        initialRisk.map { Double(lastClose.units - averagePrice.units) / Double($0) }
    }
}

/// An exit rule's answer for one position.
public enum ExitVerdict: Sendable, Equatable {
    case hold
    /// Sell this many shares (at most the position) at the session's open, and why.
    case close(Quantity, reason: String)
}

/// An exit rule: a plugin (see ``PipelinePlugin``: init -> validate -> execute -> cleanup) that
/// reviews every held long position at the 09:00 scan. A `close` becomes a reduce-only market
/// intent `<date>.exit-<name>.<symbol>` that goes to the risk gate like every entry
/// (``OrderSpec/isReduceOnlyIntent(_:)``: it may only reduce), so the tree and the backtest
/// trade it alike. When several rules close one symbol, the largest quantity wins (the first
/// configured on a tie).
public protocol ExitRule: PipelinePlugin {
    /// The indicators ``review(_:_:)`` reads (added to the scan's plan).
    var indicators: [IndicatorSpec] { get }
    /// Whether the rule reads ``ExitPosition/holding`` (the entry's session, shares or stop): a
    /// held long whose entry is unknown is then named in the scan's notes (the rule holds it).
    var needsHolding: Bool { get }
    /// The lifecycle's execute for one position.
    func review(_ position: ExitPosition, _ context: SymbolContext) -> ExitVerdict
}

extension ExitRule {
    public var indicators: [IndicatorSpec] { [] }
    public var needsHolding: Bool { false }
}

/// The exit rules a configuration may name (`strategy.exits`).
public struct ExitRegistry: Sendable {
    private var factories: [String: @Sendable () -> any ExitRule] = [:]

    public init() {}

    /// `stop_loss`, `take_profit`, `time_stop`, `trailing_stop`, `staged_take_profit`, `weak_exit`.
    public static var builtIn: ExitRegistry {
        var r = ExitRegistry()
        r.register(StopLossExit.pluginName) { StopLossExit() }
        r.register(TakeProfitExit.pluginName) { TakeProfitExit() }
        r.register(TimeStopExit.pluginName) { TimeStopExit() }
        r.register(TrailingStopExit.pluginName) { TrailingStopExit() }
        r.register(StagedTakeProfitExit.pluginName) { StagedTakeProfitExit() }
        r.register(WeakExit.pluginName) { WeakExit() }
        return r
    }

    public mutating func register(_ name: String, _ make: @escaping @Sendable () -> any ExitRule) { factories[name] = make }
    public func make(_ name: String) -> (any ExitRule)? { factories[name]?() }
    public var names: [String] { factories.keys.sorted() }
}

/// Closes the whole position when the last close is at or below average price × (1 − `pct`/100).
/// Default `pct` 8. (The bracket's own stop rests at the broker; this is a close-based stop.)
public struct StopLossExit: ExitRule {
    public static let pluginName = "stop_loss"
    public var name: String { Self.pluginName }
    public private(set) var pct = 8.0
    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "exit \(name)", parameters)
        pct = r.double("pct", default: 8, in: 0.01...99)
        try r.finish()
    }

    public func review(_ p: ExitPosition, _ context: SymbolContext) -> ExitVerdict {
        let level = Double(p.averagePrice.units) * (1 - pct / 100)
        guard Double(p.lastClose.units) <= level else { return .hold }
        return .close(p.quantity, reason: "close \(p.lastClose) at or below \(f(pct))% under the average price \(p.averagePrice)")
    }
}

/// Closes the whole position when the last close is at or above average price × (1 + `pct`/100).
/// Default `pct` 20.
public struct TakeProfitExit: ExitRule {
    public static let pluginName = "take_profit"
    public var name: String { Self.pluginName }
    public private(set) var pct = 20.0
    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "exit \(name)", parameters)
        pct = r.double("pct", default: 20, in: 0.01...1_000)
        try r.finish()
    }

    public func review(_ p: ExitPosition, _ context: SymbolContext) -> ExitVerdict {
        let level = Double(p.averagePrice.units) * (1 + pct / 100)
        guard Double(p.lastClose.units) >= level else { return .hold }
        return .close(p.quantity, reason: "close \(p.lastClose) at or above \(f(pct))% over the average price \(p.averagePrice)")
    }
}

/// A time stop with a hold/extend decision: after `max_sessions` sessions held the position is
/// closed, unless `extend_sessions` > 0 and it is at least `extend_if_r` R in profit (last close
/// − average ≥ extend_if_r × R): then it is held until `max_sessions + extend_sessions`, and
/// closed then whatever its profit. Needs the holding (entry session; R for the extension).
/// Defaults: 10 sessions, no extension, 1 R.
public struct TimeStopExit: ExitRule {
    public static let pluginName = "time_stop"
    public var name: String { Self.pluginName }
    public var needsHolding: Bool { true }
    public private(set) var maxSessions = 10
    public private(set) var extendSessions = 0
    public private(set) var extendIfR = 1.0
    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "exit \(name)", parameters)
        maxSessions = r.int("max_sessions", default: 10, in: 1...1_000)
        extendSessions = r.int("extend_sessions", default: 0, in: 0...1_000)
        extendIfR = r.double("extend_if_r", default: 1, in: -100...100)
        try r.finish()
    }

    public func review(_ p: ExitPosition, _ context: SymbolContext) -> ExitVerdict {
        guard let held = p.holding?.sessionsHeld, held >= maxSessions else { return .hold }
        if extendSessions > 0, held < maxSessions + extendSessions, let r = p.rMultiple, r >= extendIfR { return .hold }
        return .close(
            p.quantity, reason: "held \(held) sessions (time stop \(maxSessions)\(extendSessions > 0 ? " + \(extendSessions)" : ""))")
    }
}

/// A trailing stop activated at an R multiple, trailing by an ATR multiple: once the highest close
/// since the entry is at least `activation_r` R above the average price, the trail is that highest
/// close − `atr_multiple` × ATR(`atr_period`) (the ATR of the last bar: it adapts to volatility);
/// a last close below the trail closes the position. Needs the holding (entry session, R).
/// Defaults: 1 R, 3 × ATR(14).
public struct TrailingStopExit: ExitRule {
    public static let pluginName = "trailing_stop"
    public var name: String { Self.pluginName }
    public var needsHolding: Bool { true }
    public private(set) var activationR = 1.0
    public private(set) var atrPeriod = 14
    public private(set) var atrMultiple = 3.0
    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "exit \(name)", parameters)
        activationR = r.double("activation_r", default: 1, in: 0...100)
        atrPeriod = r.int("atr_period", default: 14, in: 1...IndicatorSpec.maximumPeriod)
        atrMultiple = r.double("atr_multiple", default: 3, in: 0.1...50)
        try r.finish()
    }

    public var indicators: [IndicatorSpec] { [.atr(period: atrPeriod)] }

    public func review(_ p: ExitPosition, _ context: SymbolContext) -> ExitVerdict {
        guard let h = p.holding, let risk = p.initialRisk, let atr = context.indicators.value(.atr(period: atrPeriod)), atr > 0 else {
            return .hold
        }
        var highest = Int64.min
        for b in context.bars.reversed() {
            guard NewYorkTime.local(b.start).date >= h.entryDate else { break }
            highest = max(highest, b.close.units)
        }
        guard highest != .min, Double(highest - p.averagePrice.units) >= activationR * Double(risk) else { return .hold }
        let trail = Double(highest) - atrMultiple * atr * Double(Price.unitsPerDollar)
        guard Double(p.lastClose.units) < trail else { return .hold }
        return .close(
            p.quantity,
            reason: "close \(p.lastClose) below the trail \(Price(units: Int64(trail.rounded(.down)))) "
                + "(highest close \(Price(units: highest)) − \(f(atrMultiple)) × ATR\(atrPeriod) \(f(atr)))")
    }
}

/// Partial exits at R thresholds: `stages` is `R:FRACTION,...` (default `1:0.5,2:0.25`); when the
/// last close reaches average price + R × that stage's R, the position is cut to the initial
/// quantity − floor(initial × the fractions of every stage reached so far), so each stage sells
/// once (a later scan finds the position already cut). Needs the holding (initial shares, R).
public struct StagedTakeProfitExit: ExitRule {
    public static let pluginName = "staged_take_profit"
    public var name: String { Self.pluginName }
    public var needsHolding: Bool { true }
    /// (R multiple, fraction of the initial shares), ascending by R.
    public private(set) var stages: [(r: Double, fraction: Double)] = [(1, 0.5), (2, 0.25)]
    public init() {}

    static func parse(_ text: String) -> [(r: Double, fraction: Double)]? {
        var out: [(r: Double, fraction: Double)] = []
        for part in text.split(separator: ",") {
            let p = part.split(separator: ":")
            guard p.count == 2, let r = Double(p[0]), let fr = Double(p[1]), r.isFinite, r > 0, fr > 0, fr <= 1 else { return nil }
            if let last = out.last, r <= last.r { return nil }
            out.append((r, fr))
        }
        guard !out.isEmpty, out.reduce(0, { $0 + $1.fraction }) <= 1 + 1e-12 else { return nil }
        return out
    }

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "exit \(name)", parameters)
        let text = r.string(
            "stages", default: "1:0.5,2:0.25",
            expected: "R:FRACTION pairs ascending by R, fractions adding up to at most 1 (e.g. 1:0.5,2:0.25)",
            isValid: { Self.parse($0) != nil })
        try r.finish()
        stages = Self.parse(text) ?? stages
    }

    public func review(_ p: ExitPosition, _ context: SymbolContext) -> ExitVerdict {
        guard let h = p.holding, let risk = p.initialRisk, let r = p.rMultiple else { return .hold }
        var fraction = 0.0
        var reached = 0.0
        for s in stages where r >= s.r {
            fraction += s.fraction
            reached = s.r
        }
        guard fraction > 0 else { return .hold }
        let sold = Int64((Double(h.initialQuantity.shares) * fraction + 1e-9).rounded(.down))
        let keep = max(0, h.initialQuantity.shares - sold)
        guard p.quantity.shares > keep else { return .hold }
        return .close(
            Quantity(p.quantity.shares - keep),
            reason: "close \(p.lastClose) is \(f(r)) R over the average \(p.averagePrice) (R \(Price(units: risk))): "
                + "stage \(f(reached)) R keeps \(keep) of \(h.initialQuantity)")
    }
}

/// Position health: closes a position that has gone weak before it has worked. With C the last
/// close, A the average price and R the entry's risk (A − the entry's stop), the whole position
/// is closed when (C − A)/R < `max_r` (not yet at that R: a position that has worked is left to
/// the trailing stop and the targets) and every enabled condition holds:
/// - price: each of the last `below_sessions` closes, all on or after the entry's session, is
///   below the simple moving average of the `ma_period` closes ending at its bar (compared
///   exactly: close × ma_period < the sum); `below_sessions: 0` disables it;
/// - momentum: `momentum: rsi`: RSI(`momentum_period`) of the last bar < `momentum_below`
///   (default 40); `momentum: roc`: the rate of change (C / the close `momentum_period` bars
///   before − 1) × 100 < `momentum_below` (default 0, in percent); `momentum: none` disables it.
/// At least one condition must be enabled. Needs the holding (entry session, R): without it, or
/// without enough bars for a condition, it holds. Defaults: SMA 20, 3 sessions, RSI 14 < 40, 1 R.
public struct WeakExit: ExitRule {
    public static let pluginName = "weak_exit"
    public var name: String { Self.pluginName }
    public var needsHolding: Bool { true }
    /// The momentum gauge.
    public enum Momentum: String, Sendable { case rsi, roc, none }
    public private(set) var maPeriod = 20
    public private(set) var belowSessions = 3
    public private(set) var momentum = Momentum.rsi
    public private(set) var momentumPeriod = 14
    public private(set) var momentumBelow = 40.0
    public private(set) var maxR = 1.0
    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "exit \(name)", parameters)
        maPeriod = r.int("ma_period", default: 20, in: 2...IndicatorSpec.maximumPeriod)
        belowSessions = r.int("below_sessions", default: 3, in: 0...250)
        momentum = Momentum(rawValue: r.string("momentum", default: "rsi", oneOf: ["rsi", "roc", "none"])) ?? .rsi
        momentumPeriod = r.int("momentum_period", default: 14, in: 1...IndicatorSpec.maximumPeriod)
        momentumBelow =
            momentum == .roc
            ? r.double("momentum_below", default: 0, in: -100...1_000) : r.double("momentum_below", default: 40, in: 0...100)
        maxR = r.double("max_r", default: 1, in: -100...100)
        if belowSessions == 0 && momentum == .none {
            r.problem("below_sessions is 0 and momentum is none: no condition left to find a position weak")
        }
        try r.finish()
    }

    public var indicators: [IndicatorSpec] { momentum == .rsi ? [.rsi(period: momentumPeriod)] : [] }

    public func review(_ p: ExitPosition, _ context: SymbolContext) -> ExitVerdict {
        guard let h = p.holding, let r = p.rMultiple, r < maxR else { return .hold }
        var why: [String] = []
        if belowSessions > 0 {
            let bars = context.bars
            guard bars.count >= belowSessions + maPeriod - 1 else { return .hold }
            for k in 0..<belowSessions {
                let i = bars.endIndex - 1 - k
                guard sessionDate(of: bars[i]) >= h.entryDate else { return .hold }
                var sum: Int128 = 0
                for j in (i - maPeriod + 1)...i { sum += Int128(bars[j].close.units) }
                guard Int128(bars[i].close.units) * Int128(maPeriod) < sum else { return .hold }
            }
            why.append("\(belowSessions) close\(belowSessions == 1 ? "" : "s") below SMA\(maPeriod)")
        }
        switch momentum {
        case .rsi:
            guard let rsi = context.indicators.value(.rsi(period: momentumPeriod)), rsi < momentumBelow else { return .hold }
            why.append("RSI\(momentumPeriod) \(f(rsi)) < \(f(momentumBelow))")
        case .roc:
            let bars = context.bars
            guard bars.count > momentumPeriod else { return .hold }
            let base = bars[bars.endIndex - 1 - momentumPeriod].close.units
            guard base > 0 else { return .hold }
            let roc = (Double(p.lastClose.units) / Double(base) - 1) * 100
            guard roc < momentumBelow else { return .hold }
            why.append("ROC\(momentumPeriod) \(f(roc))% < \(f(momentumBelow))%")
        case .none:
            break
        }
        return .close(p.quantity, reason: "weak at \(f(r)) R (under \(f(maxR)) R): \(why.joined(separator: ", "))")
    }
}

extension PipelineRun {
    /// The reduce-only exit intents of the scan of `input.date`, with their rationales: every
    /// held long (from the portfolio) is reviewed by every exit rule on its context (`contexts`:
    /// those the scan built; any other held symbol's from its bars), nothing for a symbol without
    /// bars before the date. `notes`: one per held long whose entry is unknown while a rule
    /// needs it (those rules hold it: never reviewed as a fresh entry).
    func exitIntents(
        _ input: ScanInput, rules: [any ExitRule], contexts: [Symbol: SymbolContext], plan: IndicatorPlan, lookback: Int,
        regime: MarketRegime
    ) -> (intents: [IntentGroup], rationales: [IntentRationale], notes: [String]) {
        guard !rules.isEmpty else { return ([], [], []) }
        var intents: [IntentGroup] = []
        var rationales: [IntentRationale] = []
        var notes: [String] = []
        let needing = rules.filter(\.needsHolding).map(\.name)
        let held = input.portfolio.positions.filter { $0.value.quantity > .zero }.sorted { $0.key < $1.key }
        for (symbol, position) in held {
            if !needing.isEmpty, input.holdings[symbol] == nil {
                notes.append(
                    "\(ExitIntents.unknownEntryNote)\(needing.joined(separator: ", ")) \(needing.count == 1 ? "does" : "do") not act on "
                        + "\(symbol): \(input.unknownHoldings[symbol] ?? "no entry record")")
            }
            var context = contexts[symbol]
            if context == nil, let history = input.universe.first(where: { $0.info.symbol == symbol }) {
                let usable = barsBefore(input.date, history.bars)
                if !usable.isEmpty {
                    context = SymbolContext.build(
                        date: input.date, info: history.info, bars: Array(usable), plan: plan, lookback: lookback, regime: regime,
                        position: position)
                }
            }
            guard let context, let close = context.lastClose else { continue }
            let p = ExitPosition(
                symbol: symbol, quantity: position.quantity, averagePrice: position.averagePrice, lastClose: close,
                holding: input.holdings[symbol])
            var best: (rule: String, quantity: Quantity, reason: String)?
            for rule in rules {
                guard case .close(let q, let reason) = rule.review(p, context) else { continue }
                let quantity = min(q, p.quantity)
                if quantity > .zero, best.map({ quantity > $0.quantity }) ?? true { best = (rule.name, quantity, reason) }
            }
            guard let best, let id = IntentID(validating: "\(input.date).\(ExitIntents.prefix)\(best.rule).\(symbol.rawValue)") else {
                continue
            }
            intents.append(
                IntentGroup(
                    id: id, symbol: symbol, sector: context.info.sector ?? position.sector, side: .sell, quantity: best.quantity,
                    entry: .market, stopLoss: nil, takeProfit: nil, createdAt: input.now))
            rationales.append(IntentRationale(intent: id, detector: "exit \(best.rule)", rationale: best.reason))
        }
        return (intents, rationales, notes)
    }
}

/// The naming of exit intents: `<date>.exit-<rule>.<symbol>`.
public enum ExitIntents {
    /// The strategy component's prefix (reduce-only by ``OrderSpec/isReduceOnlyIntent(_:)``).
    public static let prefix = "exit-"
    /// How the scan's note about a held long whose entry is unknown begins (``ScanResult/notes``).
    public static let unknownEntryNote = "unknown entry: "

    /// The exit rule named in an intent id, or nil for an id that is not an exit's.
    public static func rule(of intent: String) -> String? {
        let parts = intent.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[1].hasPrefix(prefix) else { return nil }
        return String(parts[1].dropFirst(prefix.count))
    }
}
