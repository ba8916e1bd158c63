import ASTCalendar
import ASTCore
import ASTStrategy
import Testing

@testable import ASTEngine

/// The market's look-ups the scan makes every session, against their plain definitions.
@Suite struct EngineMarketTests {
    static func events(_ seed: UInt64, count: Int, sorted: Bool) -> [CorporateEvent] {
        var rng = seed
        func next(_ n: Int) -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((rng >> 33) % UInt64(n))
        }
        let base = LocalDate(year: 2025, month: 1, day: 1)!
        let kinds = CorporateEventKind.allCases
        let all = (0..<count).map { _ in
            CorporateEvent(
                symbol: Symbol(validating: "S\(next(5))")!, date: base.adding(days: next(120)), kind: kinds[next(kinds.count)])
        }
        // Sorted by date only (a stable sort): equal dates keep their arrival order, as a store may list them.
        return sorted ? all.enumerated().sorted { ($0.element.date, $0.offset) < ($1.element.date, $1.offset) }.map(\.element) : all
    }

    @Test(arguments: [true, false])
    func theEventsOfAWindowAreExactlyThoseAPassOverEveryEventFinds(sorted: Bool) {
        let base = LocalDate(year: 2025, month: 1, day: 1)!
        for seed in UInt64(1)...20 {
            let events = Self.events(seed, count: Int(seed) * 7, sorted: sorted)
            let market = EngineMarket(symbols: [], bars: [], events: events)
            if sorted { #expect(market.eventsByDate, "sorted by date: the binary search is used") }
            for from in stride(from: -5, through: 125, by: 9) {
                for width in [0, 1, 30, 60, 200] {
                    let lo = base.adding(days: from), hi = lo.adding(days: width)
                    #expect(
                        market.events(from: lo, through: hi) == events.filter { $0.date >= lo && $0.date <= hi },
                        "seed \(seed), \(lo) ... \(hi)")
                }
            }
        }
    }

    /// The scan hands a window to the universe filter as ascending (skipping its O(bars) order
    /// check) only when no two of its bars share a start: the market's sort cannot separate those.
    @Test func aWindowIsVouchedAscendingExactlyWhenNoTwoOfItsBarsShareAStart() {
        let days = TradingCalendar.nyse.sessions(
            from: LocalDate(year: 2025, month: 3, day: 3)!, to: LocalDate(year: 2025, month: 3, day: 31)!)
        func bar(_ day: Session) -> Bar {
            Bar(
                symbol: "DUP", start: day.open, open: Price(dollars: 10)!, high: Price(dollars: 11)!, low: Price(dollars: 9)!,
                close: Price(dollars: 10)!, volume: 1_000)
        }
        // A second bar with the start of the 8th session (a corrected bar stored twice).
        var bars = days.map(bar)
        bars.append(bar(days[7]))
        let market = EngineMarket(symbols: [SymbolInfo(symbol: "DUP", exchange: "NYSE")], bars: bars)
        let held = market.bars[0]
        for lo in 0..<held.count {
            for hi in lo...held.count {
                let plain = zip(held[lo..<hi], held[lo..<hi].dropFirst()).allSatisfy { $0.start < $1.start }
                #expect(market.ascending(0, lo, hi) == plain, "bars \(lo)..<\(hi)")
            }
        }
        #expect(!market.ascending(0, 0, held.count))
    }
}
