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
}
