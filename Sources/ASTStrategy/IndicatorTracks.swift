import ASTCalendar
import ASTCore
import ASTIndicators

/// One symbol's scan indicators carried from scan to scan: the plan's ``IndicatorEngine`` fed
/// every bar of the symbol once, oldest first, and the values of the last `lookback` bars.
///
/// The scan's indicators are defined over **every bar of the symbol before the scan date, since
/// its first stored bar**, back-adjusted for the splits known at the scan (see README,
/// "Indicators"). Feeding the bars one scan at a time gives exactly (bit for bit) what
/// ``SymbolContext/build(date:info:bars:plan:lookback:regime:position:)`` computes over that
/// whole history at once: the same engine takes the same bars in the same order. A new split
/// changes every earlier adjusted bar, so it rebuilds the track from the history.
public struct IndicatorTrack: Sendable {
    public let plan: IndicatorPlan
    public let lookback: Int
    var engine: IndicatorEngine
    /// The values after the last `lookback` bars fed: a ring whose oldest element is at `head`
    /// once full.
    var ring: [IndicatorValues] = []
    var head = 0
    /// The last bar fed, as adjusted when it was fed.
    public private(set) var last: Bar?
    /// How many splits the fed bars were adjusted for.
    public let splits: Int
    /// A bar that did not start after the previous one was met: no values from then on, as a
    /// recomputation over the same bars gives none.
    public private(set) var outOfOrder = false

    public init(plan: IndicatorPlan, lookback: Int, splits: Int) {
        self.plan = plan
        self.lookback = max(1, lookback)
        self.splits = splits
        engine = IndicatorEngine(plan: plan)
        ring.reserveCapacity(self.lookback)
    }

    /// Bars fed so far.
    public var barCount: Int { engine.barCount }

    /// Feeds the symbol's next bar: O(1) (one update of each indicator of the plan).
    public mutating func feed(_ bar: Bar) {
        guard !outOfOrder else { return }
        if ring.count == lookback {
            // The oldest values' storage takes the new ones, in place (no array per bar).
            guard engine.update(bar, into: &ring[head]) else { return stop() }
            head = (head + 1) % lookback
        } else {
            guard let values = engine.update(bar) else { return stop() }
            ring.append(values)
        }
        last = bar
    }

    /// A bar out of order: no values from then on.
    private mutating func stop() {
        outOfOrder = true
        ring.removeAll()
        head = 0
    }

    /// The values of the last `lookback` bars fed, oldest first (empty after a bar out of order).
    public var window: IndicatorWindow {
        IndicatorWindow(ring: ring, head: head)
    }

    /// Where `bars` (ascending) continue this track: the index after the last bar fed, or nil
    /// when they do not hold that bar as it was fed (adjusted otherwise, or not there), or were
    /// adjusted for another number of splits. Looks back from the end: O(bars after it).
    public func continuation(in bars: ArraySlice<Bar>, splits: Int) -> Int? {
        guard splits == self.splits, !outOfOrder, let last else { return nil }
        var i = bars.endIndex
        while i > bars.startIndex {
            let bar = bars[i - 1]
            if bar.start == last.start { return bar == last ? i : nil }
            if bar.start < last.start { return nil }
            i -= 1
        }
        return nil
    }
}

/// The scan indicators of a whole universe, carried from one scan to the next by whoever runs
/// the scans (the tree's strategy shell, the engine): one ``IndicatorTrack`` per symbol. One scan
/// costs O(1) per symbol per new bar; a track is rebuilt from the symbol's history only on its
/// first scan, after a new split, or when the bars do not continue it (a gap longer than the
/// recent bars handed in, a corrected last bar). After a restart the first scan rebuilds every
/// track from the bar store, which gives the same state the carried tracks had.
public struct ScanIndicators: Sendable {
    public let plan: IndicatorPlan
    public let lookback: Int
    /// The tracks in an array, mutated in place through its subscript, found by symbol through
    /// `slots` (or, when the caller lists the universe in the same order at every scan, by
    /// position: no hash at all).
    var tracks: [IndicatorTrack] = []
    var symbols: [Symbol] = []
    var slots: [Symbol: Int] = [:]
    /// Bars fed to a track incrementally, and tracks rebuilt from the history (for statistics).
    public private(set) var barsFed = 0
    public private(set) var rebuilds = 0

    public init(plan: IndicatorPlan, lookback: Int) {
        self.plan = plan
        self.lookback = lookback
    }

    /// The slot of `symbol`'s track: `hint` when that slot holds it, else the dictionary's.
    func slot(_ symbol: Symbol, hint: Int) -> Int? {
        if hint >= 0, hint < symbols.count, symbols[hint] == symbol { return hint }
        return slots[symbol]
    }

    /// The track of `symbol`, if it has been advanced.
    public func track(_ symbol: Symbol) -> IndicatorTrack? { slots[symbol].map { tracks[$0] } }

    /// The values window of `symbol`'s track when its last bar fed starts at `lastStart` (the
    /// scan's last usable bar), without copying the track; `nil` otherwise.
    public func window(_ symbol: Symbol, lastStart: Timestamp?) -> IndicatorWindow? {
        window(symbol, hint: -1, lastStart: lastStart)
    }

    /// As above; `hint` is the slot to try first (the symbol's index in the universe the tracks
    /// were advanced with): no hash when it holds the symbol.
    func window(_ symbol: Symbol, hint: Int, lastStart: Timestamp?) -> IndicatorWindow? {
        guard let k = slot(symbol, hint: hint), tracks[k].last?.start == lastStart else { return nil }
        return tracks[k].window
    }

    /// Brings `symbol`'s track to the scan whose usable bars end with `recent` (ascending,
    /// adjusted for `splits` splits, at least the bars since the previous scan): feeds the bars
    /// after the last one fed; when `recent` does not continue the track, rebuilds it from
    /// `history()` (every usable bar since the symbol's first, adjusted alike). Without recent
    /// bars the track stays as it is (the universe filter excludes such a symbol).
    public mutating func advance(
        _ symbol: Symbol, recent: ArraySlice<Bar>, splits: Int, history: () throws -> ArraySlice<Bar>
    ) rethrows {
        try advance(symbol, hint: -1, recent: recent, splits: splits, history: history)
    }

    mutating func advance(
        _ symbol: Symbol, hint: Int, recent: ArraySlice<Bar>, splits: Int, history: () throws -> ArraySlice<Bar>
    ) rethrows {
        guard !recent.isEmpty else { return }
        // In place (an array element, no hash when the hint holds, no copy of the track): this
        // runs for every symbol at every scan.
        let at = slot(symbol, hint: hint)
        if let at, let next = tracks[at].continuation(in: recent, splits: splits) {
            for bar in recent[next...] { tracks[at].feed(bar) }
            barsFed += recent.endIndex - next
            return
        }
        var track = IndicatorTrack(plan: plan, lookback: lookback, splits: splits)
        for bar in try history() { track.feed(bar) }
        rebuilds += 1
        if let at {
            tracks[at] = track
        } else {
            slots[symbol] = tracks.count
            tracks.append(track)
            symbols.append(symbol)
        }
    }

    /// Advances every symbol of `input.universe` to the scan of `input.date` (its bars are the
    /// recent ones); `history(i)` gives every bar of `input.universe[i]` before the date, since
    /// the symbol's first, adjusted as its recent bars are.
    public mutating func advance(_ input: ScanInput, history: (Int) throws -> [Bar]) rethrows {
        let cutoff = dayStart(input.date)
        for i in input.universe.indices {
            // A universe listed in the same order at every scan finds its tracks by position.
            try advance(
                input.universe[i].info.symbol, hint: i, recent: barsBefore(start: cutoff, input.universe[i].bars),
                splits: input.universe[i].splits
            ) {
                barsBefore(start: cutoff, try history(i)[...])
            }
        }
    }
}
