import ASTCalendar
import ASTCore
import ASTPaperBroker

/// One symbol's daily bars as columns (struct of arrays, oldest first): what the single-symbol
/// research loop reads, built once from the parsed CSV.
public struct ResearchBars: Sendable, Equatable {
    public var symbol: Symbol
    public var dates: [LocalDate]
    public var opens: [Int64]
    public var highs: [Int64]
    public var lows: [Int64]
    public var closes: [Int64]
    /// Shares traded per bar (empty: unknown, no volume cap applies).
    public var volumes: [Int64]

    public init(
        symbol: Symbol, dates: [LocalDate], opens: [Int64], highs: [Int64], lows: [Int64], closes: [Int64], volumes: [Int64] = []
    ) {
        self.symbol = symbol
        self.dates = dates
        self.opens = opens
        self.highs = highs
        self.lows = lows
        self.closes = closes
        self.volumes = volumes
    }

    /// From bars in time order (their session dates in New York).
    public init(symbol: Symbol, bars: [Bar]) {
        self.symbol = symbol
        dates = bars.map { NewYorkTime.local($0.start).date }
        opens = bars.map(\.open.units)
        highs = bars.map(\.high.units)
        lows = bars.map(\.low.units)
        closes = bars.map(\.close.units)
        volumes = bars.map(\.volume)
    }

    public var count: Int { closes.count }
}

/// How the single-symbol research mode trades: `--strategy`, `--size`, `--fill`, `--commission`.
public struct ResearchSpec: Sendable, Equatable {
    /// A built-in example strategy.
    public enum Strategy: Sendable, Equatable {
        /// Long only: buy after the fast SMA of the closes crosses above the slow one, sell after it
        /// crosses below (a cross at bar t: fast < slow at t−1 and fast > slow at t).
        case smaCross(fast: Int, slow: Int)
    }

    /// How many shares an entry buys (never more than the cash buys, commission included).
    public enum Size: Sendable, Equatable {
        case shares(Int64)
        /// This percent of the cash at the fill.
        case percent(Int64)
        /// Fixed risk: this many basis points of the cash lost if the stop (`--stop`) fills:
        /// shares = ⌊cash × bps / 10,000 / (fill price − stop)⌋.
        case riskBps(Int64)
    }

    /// When a decision made at a bar's close fills.
    public enum Fill: String, Sendable, Equatable {
        /// At the next bar's open.
        case nextOpen = "next_open"
        /// At the deciding bar's own close (a market-on-close order placed just before it).
        case close
    }

    public var strategy: Strategy
    public var size: Size
    public var fill: Fill
    public var commission: CommissionModel
    public var capital: Money
    public var slippage: SlippageModel
    /// Stops, targets, the volume cap and margin (``ResearchRules``; the default changes nothing).
    public var rules = ResearchRules()

    public init(
        strategy: Strategy, size: Size, fill: Fill, commission: CommissionModel, capital: Money, slippage: SlippageModel = .none
    ) {
        self.strategy = strategy
        self.size = size
        self.fill = fill
        self.commission = commission
        self.capital = capital
        self.slippage = slippage
    }

    /// Parses the command line's texts; the error names the option and what is accepted.
    public static func parse(
        strategy: String, size: String, fill: String, commission: String, capital: Money, slippage: String = "0"
    ) throws(ResearchError) -> ResearchSpec {
        let st = strategy.split(separator: ":", maxSplits: 1).map(String.init)
        guard st.first == "sma_cross" else {
            throw ResearchError("--strategy: unknown strategy '\(strategy)'; built in: sma_cross:FAST,SLOW (e.g. sma_cross:10,20)")
        }
        let p = st.count > 1 ? st[1].split(separator: ",").map { Int($0) } : [10, 20]
        guard p.count == 2, let fast = p[0], let slow = p[1], fast >= 1, slow > fast, slow <= 10_000 else {
            throw ResearchError("--strategy: sma_cross takes two windows FAST,SLOW with 1 <= FAST < SLOW <= 10000 (got '\(strategy)')")
        }
        let sz = size.split(separator: ":", maxSplits: 1).map(String.init)
        let sizing: Size
        switch (sz.first, sz.count > 1 ? Int64(sz[1]) : nil) {
        case ("shares", let n?) where n >= 1 && n <= 1_000_000_000: sizing = .shares(n)
        case ("percent", let n?) where n >= 1 && n <= 200: sizing = .percent(n)
        case ("risk", _):
            guard sz.count > 1, let p = Percent(sz[1]), p.units > 0, p <= Percent(10), p.units % 100 == 0 else {
                throw ResearchError(
                    "--size risk:P: P percent of the cash at risk to the stop, above 0 and at most 10, in steps of 0.01 (got '\(size)')")
            }
            sizing = .riskBps(p.units / 100)
        default:
            throw ResearchError(
                "--size: shares:N (1 to 1e9), percent:P (1 to 200; above 100 needs --margin regt) or risk:P (with --stop) (got '\(size)')")
        }
        guard let f = Fill(rawValue: fill) else { throw ResearchError("--fill: next_open or close (got '\(fill)')") }
        return ResearchSpec(
            strategy: .smaCross(fast: fast, slow: slow), size: sizing, fill: f, commission: try CommissionModel.parse(commission),
            capital: capital, slippage: try SlippageModel.parse(slippage))
    }
}

/// What a fill costs in commission.
public enum CommissionModel: Sendable, Equatable {
    /// Dollars per share, at least `minimum` per fill, at most `maximumBps` of the fill's value
    /// (0: no maximum) — the shape of IBKR's per-share pricing.
    case perShare(rate: Money, minimum: Money, maximumBps: Int64)
    /// Parts per million of the fill's value (`percent:0.1` is 1,000).
    case proportional(ppm: Int64)

    public static let zero = CommissionModel.perShare(rate: .zero, minimum: .zero, maximumBps: 0)

    /// `X` (dollars per share), `per_share:X[,MIN[,MAX_BPS]]` or `percent:P`.
    public static func parse(_ text: String) throws(ResearchError) -> CommissionModel {
        let bad = ResearchError("--commission: DOLLARS_PER_SHARE, per_share:RATE[,MIN[,MAX_BPS]] or percent:P (got '\(text)')")
        if let m = Money(text), m.units >= 0 { return .perShare(rate: m, minimum: .zero, maximumBps: 0) }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw bad }
        let args = parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        switch parts[0] {
        case "per_share":
            guard (1...3).contains(args.count), let rate = Money(args[0]), rate.units >= 0 else { throw bad }
            let minimum = args.count > 1 ? Money(args[1]) : .zero
            let maximum = args.count > 2 ? Int64(args[2]) : 0
            guard let minimum, minimum.units >= 0, let maximum, maximum >= 0 else { throw bad }
            return .perShare(rate: rate, minimum: minimum, maximumBps: maximum)
        case "percent":
            guard args.count == 1, let p = Money(args[0]), p.units >= 0, p.units <= 100 * 10_000 else { throw bad }
            return .proportional(ppm: p.units)
        default: throw bad
        }
    }

    /// The most shares `budget` buys at `price` with their commission (units), computed in
    /// closed form (a loop of at most four steps corrects the rounding): never a loop per share.
    public func maxQuantity(budget: Int128, price: Int64) -> Int64 {
        guard price > 0, budget > 0 else { return 0 }
        let p = Int128(price)
        var q: Int128
        switch self {
        case .perShare(let rate, let minimum, _):
            q = budget / (p + Int128(rate.units))
            if Int128(rate.units) * q < Int128(minimum.units) { q = min(q, max(0, (budget - Int128(minimum.units)) / p)) }
        case .proportional(let ppm):
            q = budget * 1_000_000 / (p * (1_000_000 + Int128(ppm)))
        }
        var qty = Int64(clamping: q)
        for _ in 0..<4 where qty > 0 && Int128(qty) * p + Int128(charge(quantity: qty, price: price)) > budget { qty -= 1 }
        return qty > 0 && Int128(qty) * p + Int128(charge(quantity: qty, price: price)) <= budget ? qty : 0
    }

    /// The commission of `quantity` shares at `price` (money units), rounded half away from zero.
    @inline(__always)
    public func charge(quantity: Int64, price: Int64) -> Int64 {
        let notional = Int128(quantity) * Int128(price)
        switch self {
        case .perShare(let rate, let minimum, let maxBps):
            guard rate.units != 0 || minimum.units != 0 else { return 0 }
            var c = max(Int128(rate.units) * Int128(quantity), Int128(minimum.units))
            if maxBps > 0 { c = min(c, Int128(TradeLedger.divide(notional * Int128(maxBps), 10_000))) }
            return Int64(clamping: c)
        case .proportional(let ppm):
            return ppm == 0 ? 0 : TradeLedger.divide(notional * Int128(ppm), 1_000_000)
        }
    }
}

/// How far a fill moves against the trader from the price it is made at (the open or the close).
public enum SlippageModel: Sendable, Equatable {
    case none
    /// Basis points of the price, rounded half away from zero to 1/10,000 of a dollar.
    case bps(Int64)
    /// Ticks of one cent.
    case ticks(Int64)

    /// `0`, `bps:N` or `ticks:N`.
    public static func parse(_ text: String) throws(ResearchError) -> SlippageModel {
        if text == "0" || text == "none" { return .none }
        let p = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard p.count == 2, let n = Int64(p[1]), (0...10_000).contains(n) else {
            throw ResearchError("--slippage: 0, bps:N or ticks:N with 0 <= N <= 10000 (got '\(text)')")
        }
        switch p[0] {
        case "bps": return .bps(n)
        case "ticks": return .ticks(n)
        default: throw ResearchError("--slippage: 0, bps:N or ticks:N (got '\(text)')")
        }
    }

    /// The price a `side` fill gets at `price` (units): higher for a buy, lower (never below one
    /// unit) for a sell.
    @inline(__always)
    public func price(_ price: Int64, _ side: Side) -> Int64 {
        let delta: Int64
        switch self {
        case .none: return price
        case .bps(let b): delta = TradeLedger.divide(Int128(price) * Int128(b), 10_000)
        case .ticks(let t): delta = t * 100
        }
        let (up, overflow) = price.addingReportingOverflow(delta)
        return side == .buy ? (overflow ? .max : up) : max(price - delta, 1)
    }
}

/// A research option that cannot be used.
public struct ResearchError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The single-symbol research loop: one pass over the bars, no allocation per bar beyond the
/// equity row. Each bar has two phases, in order: OPEN (an order decided at an earlier close
/// fills at this bar's open) and CLOSE (the indicators take this bar's close, the strategy
/// decides; with `fill: close` the order fills at this close). A decision at bar t reads bars
/// 0...t only, and its order fills at bar t+1's open (or t's close): no look-ahead.
public enum ResearchBacktest {
    public static func run(_ bars: ResearchBars, _ spec: ResearchSpec, parameters: [(String, String)] = []) -> BacktestResult {
        let (fast, slow): (Int, Int)
        switch spec.strategy {
        case .smaCross(let a, let b): (fast, slow) = (a, b)
        }
        let n = bars.count
        var days: [BacktestDay] = []
        days.reserveCapacity(n)
        var ledger = TradeLedger()
        var cash = Int128(spec.capital.units)
        var position: Int64 = 0
        var pending: Side?  // decided at the last close, fills at this open
        var pendingReason: ExitReason = .signal  // what a pending sell is called (the rest of a capped exit)
        var fastSum: Int128 = 0, slowSum: Int128 = 0
        var previous = 0  // sign of (fast − slow) at the previous bar; 0 while undefined or equal
        let closes = bars.closes, opens = bars.opens
        let f = Int128(fast), s = Int128(slow)
        let rules = spec.rules
        let volumes = bars.volumes
        // The bracket of the open position (ResearchRules): its entry bar and its levels.
        var entryBar = Int.max
        var stopLevel: Price?, targetLevel: Price?
        let bracketed = rules.stopPct != nil || rules.targetPct != nil

        /// Carries out an order at `price` on bar `t` (`slipped`: the price is already the fill's).
        func execute(_ side: Side, at quoted: Int64, _ t: Int, reason: ExitReason = .signal, slipped: Bool = false) {
            guard quoted > 0 else { return }
            let price = slipped ? quoted : spec.slippage.price(quoted, side)
            let cap = rules.cap(volume: t < volumes.count ? volumes[t] : nil)
            if side == .buy {
                guard position == 0 else { return }
                var qty: Int64
                switch spec.size {
                case .shares(let k): qty = k
                case .percent(let p): qty = Int64(clamping: cash * Int128(p) / 100 / Int128(price))
                case .riskBps(let b):
                    // Without a stop there is no risk to size by: no entry (the CLI requires --stop).
                    let risk = rules.stop(entry: price).map { Int128(price - $0.units) } ?? 0
                    qty = risk > 0 ? Int64(clamping: cash * Int128(b) / 10_000 / risk) : 0
                }
                // Never more than the cash buys (Reg T: the buying power), commission included,
                // nor more than the volume cap.
                let budget = rules.margin == .regt ? RegT.buyingPower(equity: cash, positionsValue: 0) : cash
                qty = min(qty, spec.commission.maxQuantity(budget: budget, price: price), cap)
                guard qty > 0 else { return }
                let c = spec.commission.charge(quantity: qty, price: price)
                cash -= Int128(qty) * Int128(price) + Int128(c)
                position = qty
                ledger.apply(
                    symbol: bars.symbol, side: .buy, quantity: qty, price: Price(units: price), commission: Money(units: c),
                    date: bars.dates[t], session: t, key: "entry-\(t)", reason: .signal)
                if bracketed {
                    entryBar = t
                    stopLevel = rules.stop(entry: price)
                    targetLevel = rules.target(entry: price)
                }
            } else {
                guard position > 0 else { return }
                let qty = min(position, cap)
                if qty > 0 {
                    let c = spec.commission.charge(quantity: qty, price: price)
                    cash += Int128(qty) * Int128(price) - Int128(c)
                    ledger.apply(
                        symbol: bars.symbol, side: .sell, quantity: qty, price: Price(units: price), commission: Money(units: c),
                        date: bars.dates[t], session: t, key: "exit-\(t)", reason: reason)
                    position -= qty
                }
                // The volume cap's rest is sold at the next bar's open.
                if position > 0 {
                    pending = .sell
                    pendingReason = reason
                }
            }
        }

        for t in 0..<n {
            // OPEN: the order decided at the previous close (or the rest of a capped exit).
            if let side = pending {
                let reason = pendingReason
                pending = nil
                pendingReason = .signal
                execute(side, at: opens[t], t, reason: reason)
            }
            // INTRABAR: the position's stop and target from the bar after its entry (gap-aware,
            // the both_touched tie-break), by the exchange's rules.
            if bracketed, position > 0, t > entryBar, pending == nil {
                let bar = Bar(
                    symbol: bars.symbol, start: Timestamp(nanoseconds: 0), open: Price(units: opens[t]),
                    high: Price(units: bars.highs[t]), low: Price(units: bars.lows[t]), close: Price(units: closes[t]), volume: 0)
                if let hit = FillModel.exit(position: .buy, stop: stopLevel, target: targetLevel, bar: bar, rule: rules.bothTouched) {
                    let reason: ExitReason = hit.leg == .stopLoss ? .stopLoss : .takeProfit
                    // The stop is a market order once triggered: it slips; the target is a limit.
                    let price = hit.leg == .stopLoss ? spec.slippage.price(hit.price.units, .sell) : hit.price.units
                    execute(.sell, at: price, t, reason: reason, slipped: true)
                }
            }
            // Reg T: a position whose worst case in this bar breaches maintenance is sold at the close.
            if rules.margin == .regt, position > 0, RegT.breachesMaintenance(cash: cash, shares: position, low: bars.lows[t]) {
                execute(.sell, at: closes[t], t, reason: .marginCall)
            }
            // CLOSE: the indicators take this close; the strategy decides.
            let c = Int128(closes[t])
            fastSum += c
            slowSum += c
            if t >= fast { fastSum -= Int128(closes[t - fast]) }
            if t >= slow { slowSum -= Int128(closes[t - slow]) }
            if t >= slow - 1 {
                // fast − slow compared exactly: fastSum / fast against slowSum / slow.
                let l = fastSum * s, r = slowSum * f
                let now = l > r ? 1 : (l < r ? -1 : 0)
                var signal: Side?
                if previous < 0 && now > 0 { signal = .buy } else if previous > 0 && now < 0 { signal = .sell }
                previous = now
                if let signal {
                    if spec.fill == .close {
                        execute(signal, at: closes[t], t)
                    } else if pending == nil {  // (not over the rest of a capped exit)
                        pending = signal
                    }
                }
            }
            let exposure = Int128(position) * c
            days.append(
                BacktestDay(
                    date: bars.dates[t], equity: Money(units: Int64(clamping: cash + exposure)), cash: Money(units: Int64(clamping: cash)),
                    exposure: Money(units: Int64(clamping: exposure))))
        }
        let trades = ledger.finish { _ in n > 0 ? (bars.dates[n - 1], n - 1, Price(units: closes[n - 1])) : nil }
        let series = PriceSeries(
            symbol: bars.symbol, dates: bars.dates, opens: bars.opens.map { Price(units: $0) }, closes: closes.map { Price(units: $0) })
        return BacktestResult(
            parameters: parameters, capital: spec.capital, days: days, trades: trades, commissions: ledger.commissions, benchmark: series,
            charts: [series])
    }
}
