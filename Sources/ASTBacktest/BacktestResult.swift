import ASTCalendar
import ASTCore

/// Why a trade ended (the `exit_reason` column of trades.csv).
public enum ExitReason: String, Sendable, Equatable, Codable {
    /// The bracket's stop loss filled.
    case stopLoss = "stop_loss"
    /// The bracket's take profit filled.
    case takeProfit = "take_profit"
    /// A reduce-only order of SAFE_REDUCING (or any other entry-leg order on the closing side).
    case reduce
    /// The research strategy's exit signal (e.g. `sma_cross`: the fast SMA crossed below the slow one).
    case signal
    /// Still open when the data ended: valued at the last close, no exit commission (not sold).
    case endOfData = "end_of_data"
    /// Reg T: the worst case of the bar breached the maintenance requirement; sold at the close.
    case marginCall = "margin_call"
    /// An exit plugin (`strategy.exits`) closed the position: held too long ...
    case timeStop = "time_stop"
    /// ... the trailing stop was crossed ...
    case trailingStop = "trailing_stop"
    /// ... a stage of the staged take profit was reached (a partial exit) ...
    case stagedTakeProfit = "staged_take_profit"
    /// ... the position's health failed (`weak_exit`: closes under their average and weak momentum) ...
    case weakExit = "weak_exit"
    /// ... or rotation (`strategy.rotation`) sold it, the book full, for a stronger candidate.
    case rotation
}

extension ExitReason {
    /// The reason of an exit rule's reduce-only intent `<date>.exit-<rule>.<symbol>` (a rule
    /// without a reason of its own, e.g. `stop_loss`, is named by its own name's reason); nil for
    /// any other intent id.
    static func ofExitIntent(_ intent: String) -> ExitReason? {
        let parts = intent.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[1].hasPrefix("exit-") else { return nil }
        return ExitReason(rawValue: String(parts[1].dropFirst(5))) ?? .reduce
    }
}

/// One round trip: an entry (all fills of one entry order, volume-weighted) and the exits that
/// closed it. Prices and money are exact fixed-point values; only `returnFraction` is a `Double`.
public struct BacktestTrade: Sendable, Equatable {
    public var symbol: Symbol
    /// `.buy` for a long trade, `.sell` for a short one.
    public var side: Side
    public var entryDate: LocalDate
    /// The volume-weighted entry price, rounded half away from zero to 1/10,000.
    public var entryPrice: Price
    public var exitDate: LocalDate
    /// The volume-weighted exit price, rounded half away from zero to 1/10,000.
    public var exitPrice: Price
    public var quantity: Quantity
    /// Exit value − entry value (signed for the side) − commissions, exactly.
    public var pnl: Money
    /// The entry's and the exits' commissions charged to this trade.
    public var commission: Money
    /// `pnl / entry value`.
    public var returnFraction: Double
    /// Sessions from the entry's session to the exit's (0: in and out on one session).
    public var barsHeld: Int
    public var exitReason: ExitReason

    public init(
        symbol: Symbol, side: Side, entryDate: LocalDate, entryPrice: Price, exitDate: LocalDate, exitPrice: Price,
        quantity: Quantity, pnl: Money, commission: Money, returnFraction: Double, barsHeld: Int, exitReason: ExitReason
    ) {
        self.symbol = symbol
        self.side = side
        self.entryDate = entryDate
        self.entryPrice = entryPrice
        self.exitDate = exitDate
        self.exitPrice = exitPrice
        self.quantity = quantity
        self.pnl = pnl
        self.commission = commission
        self.returnFraction = returnFraction
        self.barsHeld = barsHeld
        self.exitReason = exitReason
    }
}

/// The account at one session's end (the engine's 16:40 portfolio; the research loop's close).
public struct BacktestDay: Sendable, Equatable {
    public var date: LocalDate
    public var equity: Money
    public var cash: Money
    /// The positions' net market value at the session's closes (`equity − cash`).
    public var exposure: Money

    public init(date: LocalDate, equity: Money, cash: Money, exposure: Money) {
        self.date = date
        self.equity = equity
        self.cash = cash
        self.exposure = exposure
    }
}

/// One symbol's daily prices over the run's sessions (for the benchmark and the price charts).
public struct PriceSeries: Sendable, Equatable {
    public var symbol: Symbol
    public var dates: [LocalDate]
    public var opens: [Price]
    public var closes: [Price]

    public init(symbol: Symbol, dates: [LocalDate], opens: [Price], closes: [Price]) {
        self.symbol = symbol
        self.dates = dates
        self.opens = opens
        self.closes = closes
    }

    /// Buy and hold: the first session's open to the last session's close, as a fraction; nil
    /// without prices.
    public var buyAndHoldReturn: Double? {
        guard let first = opens.first, let last = closes.last, first.units > 0 else { return nil }
        return Double(last.units) / Double(first.units) - 1
    }
}

/// Everything a backtest produced, in the form every output file is written from.
public struct BacktestResult: Sendable, Equatable {
    /// How the run was made, as ordered `key: value` pairs (shown in summary.json and the reports).
    public var parameters: [(String, String)]
    public var capital: Money
    public var days: [BacktestDay]
    public var trades: [BacktestTrade]
    /// Every commission paid (the trades' plus none other: every fill belongs to a trade).
    public var commissions: Money
    /// The index (engine mode) or the symbol itself (research mode), bought and held.
    public var benchmark: PriceSeries?
    /// Price charts with the trades marked (the most traded symbols in engine mode).
    public var charts: [PriceSeries]

    public init(
        parameters: [(String, String)], capital: Money, days: [BacktestDay], trades: [BacktestTrade], commissions: Money,
        benchmark: PriceSeries?, charts: [PriceSeries]
    ) {
        self.parameters = parameters
        self.capital = capital
        self.days = days
        self.trades = trades
        self.commissions = commissions
        self.benchmark = benchmark
        self.charts = charts
    }

    public static func == (a: BacktestResult, b: BacktestResult) -> Bool {
        a.parameters.map { [$0.0, $0.1] } == b.parameters.map { [$0.0, $0.1] } && a.capital == b.capital && a.days == b.days
            && a.trades == b.trades && a.commissions == b.commissions && a.benchmark == b.benchmark && a.charts == b.charts
    }
}
