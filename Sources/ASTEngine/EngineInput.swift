import ASTCalendar
import ASTCore
import ASTPaperBroker
import ASTRisk
import ASTStrategy

/// What the engine is configured with: the same sections of the configuration the tree's
/// processes read (`strategy:`, `risk.limits`, `paper_broker:`, the broker's name).
public struct EngineConfig: Sendable {
    public var pipeline: PipelineConfig
    public var limits: RiskLimits
    public var paper: PaperBrokerConfig
    /// The broker process's name (`risk.broker`): it prefixes report and execution ids.
    public var brokerName: String

    public init(
        pipeline: PipelineConfig = PipelineConfig(), limits: RiskLimits = .cautiousDefaults,
        paper: PaperBrokerConfig = .standard, brokerName: String = "broker@paper"
    ) {
        self.pipeline = pipeline
        self.limits = limits
        self.paper = paper
        self.brokerName = brokerName
    }
}

/// A stock split as the engine's scan back-adjusts for it (splits only, as the tree's 09:00 scan
/// reads the bar store): `newShares` for every `oldShares` from `exDate` on.
public struct EngineSplit: Sendable, Equatable {
    public var symbol: Symbol
    public var exDate: LocalDate
    public var newShares: Int64
    public var oldShares: Int64

    public init(symbol: Symbol, exDate: LocalDate, newShares: Int64, oldShares: Int64) {
        self.symbol = symbol
        self.exDate = exDate
        self.newShares = newShares
        self.oldShares = oldShares
    }
}

/// The market the engine trades: every symbol's raw daily bars (struct of arrays: one array of
/// bars and one of their session dates per symbol, oldest first), reference data, splits and
/// the events calendar. Built once; the engine never copies it per bar.
public struct EngineMarket: Sendable {
    /// Symbols in the order the bar store lists them (indexes included, flagged).
    public let symbols: [SymbolInfo]
    /// `bars[i]`: the raw daily bars of `symbols[i]`, ascending by start.
    public let bars: [[Bar]]
    /// `dates[i][j]`: the session date of `bars[i][j]`.
    public let dates: [[LocalDate]]
    /// Splits by symbol index, ascending by ex-date.
    public let splits: [[EngineSplit]]
    /// Earnings, splits and dividends, in the bar store's order.
    public let events: [CorporateEvent]
    /// Symbol -> sector, as the reconciler hands it to the risk gate (from the reference data).
    public let sectors: [String: String]
    /// Whether `events` ascend by date (as a bar store lists them): a scan then finds its window
    /// by binary search instead of a pass over every event.
    let eventsByDate: Bool
    /// `unordered[i]`: the indexes `j` at which `bars[i][j]` does not start after `bars[i][j - 1]`
    /// (two bars with one start; sorted, so nothing else), found once: a scan's window without
    /// such a pair is handed to the universe filter as ascending (``SymbolHistory/ascending``).
    let unordered: [[Int]]

    /// Bars of symbols not in `symbols` are dropped; bars are sorted by start per symbol.
    public init(
        symbols: [SymbolInfo], bars: [Bar], splits: [EngineSplit] = [], events: [CorporateEvent] = [],
        sectors: [String: String]? = nil
    ) {
        self.symbols = symbols
        var position: [Symbol: Int] = [:]
        for (i, s) in symbols.enumerated() where position[s.symbol] == nil { position[s.symbol] = i }
        var grouped = [[Bar]](repeating: [], count: symbols.count)
        for b in bars where b.resolution == .day {
            if let i = position[b.symbol] { grouped[i].append(b) }
        }
        self.bars = grouped.map { $0.sorted { $0.start < $1.start } }
        dates = self.bars.map { $0.map { NewYorkTime.local($0.start).date } }
        unordered = self.bars.map { b in b.indices.dropFirst().filter { b[$0].start <= b[$0 - 1].start } }
        var bySymbol = [[EngineSplit]](repeating: [], count: symbols.count)
        for s in splits {
            if let i = position[s.symbol] { bySymbol[i].append(s) }
        }
        self.splits = bySymbol.map { $0.sorted { $0.exDate < $1.exDate } }
        self.events = events
        eventsByDate = zip(events, events.dropFirst()).allSatisfy { $0.date <= $1.date }
        self.sectors = sectors ?? Dictionary(symbols.map { ($0.symbol.rawValue, $0.sector ?? "") }, uniquingKeysWith: { a, _ in a })
    }

    /// The number of daily bars held.
    public var barCount: Int { bars.reduce(0) { $0 + $1.count } }

    /// The sessions of `calendar` from `from` on (at most `count`) on which any symbol has a bar:
    /// what the tree's replay feed plays.
    public func sessions(from: LocalDate, count: Int, calendar: TradingCalendar = .nyse) -> [Session] {
        var first: LocalDate?, last: LocalDate?
        for d in dates {
            if let a = d.first, first.map({ a < $0 }) ?? true { first = a }
            if let b = d.last, last.map({ b > $0 }) ?? true { last = b }
        }
        guard let first, let last else { return [] }
        let lo = max(first, from)
        guard lo <= last else { return [] }
        return Array(calendar.sessions(from: lo, to: last).prefix(max(0, count)))
    }

    /// The events dated in `lo ... hi`, in `events`' order.
    func events(from lo: LocalDate, through hi: LocalDate) -> [CorporateEvent] {
        guard eventsByDate else { return events.filter { $0.date >= lo && $0.date <= hi } }
        // The index of the first event dated on or after `d` (after `d` when `inclusive`).
        func bound(_ d: LocalDate, inclusive: Bool) -> Int {
            var a = 0, b = events.count
            while a < b {
                let mid = (a + b) / 2
                if events[mid].date < d || (inclusive && events[mid].date == d) { a = mid + 1 } else { b = mid }
            }
            return a
        }
        let start = bound(lo, inclusive: false), end = bound(hi, inclusive: true)
        return start < end ? Array(events[start..<end]) : []
    }

    /// Whether `symbol i`'s bars `lo..<hi` ascend strictly by start.
    func ascending(_ i: Int, _ lo: Int, _ hi: Int) -> Bool {
        !unordered[i].contains { $0 > lo && $0 < hi }
    }

    /// The first index of `symbol i`'s bars dated on or after `date` (binary search).
    func lowerBound(_ i: Int, _ date: LocalDate) -> Int {
        let d = dates[i]
        var lo = 0, hi = d.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if d[mid] < date { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// Per symbol, the bounds of the last scan's window in ``EngineMarket/bars``: the first bar dated
/// on or after the window's first day, and the first on or after the scan's date. A later scan
/// walks them forward (about one bar each per session) instead of two binary searches per symbol;
/// a window that starts or ends earlier than the last one is found by binary search again. The
/// dates of a symbol ascend, so the walk stops where the binary search would.
struct ScanWindowCursor: Sendable {
    private var from: LocalDate?
    private var to: LocalDate?
    /// `lo[i]`, `hi[i]`: symbol `i`'s window is `bars[i][lo[i]..<hi[i]]`.
    private(set) var lo: [Int] = []
    private(set) var hi: [Int] = []

    /// Moves every symbol's bounds to the window of bars dated in `from ..< to`.
    mutating func move(_ m: EngineMarket, from: LocalDate, to: LocalDate) {
        let walk = lo.count == m.symbols.count && self.from.map { $0 <= from } == true && self.to.map { $0 <= to } == true
        self.from = from
        self.to = to
        guard walk else {
            lo = m.symbols.indices.map { m.lowerBound($0, from) }
            hi = m.symbols.indices.map { m.lowerBound($0, to) }
            return
        }
        for i in lo.indices {
            m.dates[i].withUnsafeBufferPointer { d in
                var a = lo[i]
                while a < d.count, d[a] < from { a += 1 }
                lo[i] = a
                var b = hi[i]
                while b < d.count, d[b] < to { b += 1 }
                hi[i] = b
            }
        }
    }
}
