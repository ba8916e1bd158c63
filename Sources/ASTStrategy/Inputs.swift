import ASTCalendar
import ASTCore
import ASTMessages

/// One symbol's daily bars, oldest first, split- and dividend-adjusted, as market data hands
/// them to the strategy.
public struct SymbolHistory: Sendable {
    public var info: SymbolInfo
    /// Daily bars, oldest first. A slice, so that a caller holding the whole history (the
    /// engine) hands in its window without copying it every scan.
    public var bars: ArraySlice<Bar>
    /// How many splits `bars` are back-adjusted for: when it changes, carried indicators are
    /// rebuilt (``ScanIndicators``).
    public var splits: Int
    /// The caller has established that `bars` ascend strictly by start (the engine checks its
    /// market once): the universe filter then skips its O(bars) order check. `false` (the
    /// default) promises nothing and the filter checks.
    public var ascending: Bool

    public init(info: SymbolInfo, bars: [Bar], splits: Int = 0, ascending: Bool = false) {
        self.init(info: info, bars: bars[...], splits: splits, ascending: ascending)
    }

    public init(info: SymbolInfo, bars: ArraySlice<Bar>, splits: Int = 0, ascending: Bool = false) {
        self.info = info
        self.bars = bars
        self.splits = splits
        self.ascending = ascending
    }
}

/// Everything the 09:00 scan of one trading day reads. Time is an input: `now` is the moment the
/// scan runs (it becomes every intent's `created_at`), `date` the session the orders are for.
public struct ScanInput: Sendable {
    public var date: LocalDate
    public var now: Timestamp
    /// The candidates for trading. Bars dated on or after `date` are ignored (no look-ahead).
    public var universe: [SymbolHistory]
    /// The market index whose trend sets the regime (e.g. SPY), daily bars oldest first.
    public var index: [Bar]
    /// The volatility index (e.g. VIX), daily bars oldest first; its last close is the level.
    public var volatilityIndex: [Bar]
    public var portfolio: PortfolioSnapshot
    /// Earnings, splits and dividends (see ``EventCalendar``).
    public var events: [CorporateEvent]
    /// The scan's indicators carried from the previous scans and advanced to this one (see
    /// ``ScanIndicators``); nil: computed over `universe`'s bars as given.
    public var indicators: ScanIndicators?
    /// What the caller knows of each held position's entry (for the exit rules: ``Holding``,
    /// from a ``HoldingsLedger``); a held long without one: the rules that need it hold.
    public var holdings: [Symbol: Holding] = [:]
    /// Held longs whose entry is unknown, and why (``HoldingsView/unknown``): the scan's notes
    /// name them when a configured exit rule needs the entry.
    public var unknownHoldings: [Symbol: String] = [:]

    /// `now` defaults to 09:00 New York time on `date`, the scheduled pre-market scan.
    public init(
        date: LocalDate, now: Timestamp? = nil, universe: [SymbolHistory], index: [Bar], volatilityIndex: [Bar],
        portfolio: PortfolioSnapshot, events: [CorporateEvent] = []
    ) {
        self.date = date
        self.now = now ?? NewYorkTime.timestamp(date, LocalTime(hour: 9, minute: 0))
        self.universe = universe
        self.index = index
        self.volatilityIndex = volatilityIndex
        self.portfolio = portfolio
        self.events = events
    }
}

/// The session date of a daily bar (its start in New York time).
@inline(__always)
func sessionDate(of bar: Bar) -> LocalDate { NewYorkTime.local(bar.start).date }

/// The bars strictly before `date`: the scan for a session never reads that session's own bar.
/// Looks only at the tail, so it costs O(bars dropped).
func barsBefore(_ date: LocalDate, _ bars: [Bar]) -> ArraySlice<Bar> { barsBefore(date, bars[...]) }

func barsBefore(_ date: LocalDate, _ bars: ArraySlice<Bar>) -> ArraySlice<Bar> {
    var end = bars.endIndex
    while end > bars.startIndex, sessionDate(of: bars[end - 1]) >= date { end -= 1 }
    return bars[bars.startIndex..<end]
}

/// The first instant of `date` on New York's wall clock. A bar's session date
/// (``sessionDate(of:)``) is before `date` exactly when the bar starts before this instant (the
/// wall clock's date never goes back, and midnight always exists in New York): a scan computes
/// it once instead of a calendar conversion per symbol.
func dayStart(_ date: LocalDate) -> Timestamp { NewYorkTime.timestamp(date, LocalTime(hour: 0, minute: 0)) }

/// ``barsBefore(_:_:)`` against `cutoff`, the scan date's ``dayStart(_:)``.
func barsBefore(start cutoff: Timestamp, _ bars: ArraySlice<Bar>) -> ArraySlice<Bar> {
    var end = bars.endIndex
    while end > bars.startIndex, bars[end - 1].start >= cutoff { end -= 1 }
    return bars[bars.startIndex..<end]
}

/// The last NYSE session before `date`, or `nil` if the calendar knows none in the previous
/// three weeks (outside the calendar's table).
func previousSession(before date: LocalDate, calendar: TradingCalendar) -> LocalDate? {
    var day = date
    for _ in 0..<21 {
        day = day.adding(days: -1)
        if calendar.isTradingDay(day) { return day }
    }
    return nil
}
