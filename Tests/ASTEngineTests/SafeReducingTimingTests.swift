import ASTCalendar
import ASTCore
import ASTEngine
import ASTRisk
import Foundation
import Testing

/// When the gate goes SAFE_REDUCING on the day a limit is broken by that day's own fills (the
/// reference semantics the tree must match, trade for trade and transition for transition).
@Suite struct SafeReducingTimingTests {
    /// The session's bars beat (close − 6 min: 15:54, 12:54 on an early close) is where the day's
    /// marks reach the gate and the reconciler, then the bars the exchange (the fills), then one
    /// portfolio valued at the marks and holding the fills. A limit broken by the fills is seen
    /// there, not at the pre-close cleanup's reconciliation a minute later.
    @Test func aLimitBrokenByTheDaysOwnFillsIsSeenAtTheBarsBeatValuedAtTheClose() throws {
        var config = Fixture.config
        // Entries are sized to 5 % of equity; the gate downgrades them to fit 4.9 % at their entry
        // price, so a fill whose day closes higher breaks the limit that very day.
        config.limits.maxSymbolConcentrationPct = Percent("4.9")!
        let sessions = Fixture.sessions(8)
        let o = try Engine(config: config, market: Fixture.market).run(sessions: sessions)
        let into = try #require(o.transitions.first { $0.to == .safeReducing }, "the tight limit was never broken")
        #expect(into.cause.code == .maxConcentration, "\(into.cause)")
        let session = try #require(sessions.first { $0.date == NewYorkTime.local(into.at).date })
        let bars = try #require(EngineSemantics.beats(of: session).first { $0.beat == .bars })
        #expect(into.at == bars.time, "entered at \(NewYorkTime.format(into.at)), the bars beat is \(NewYorkTime.format(bars.time))")

        // The symbol named was bought in that very beat (no position in it before).
        let symbol = try #require(
            o.fills.first { $0.at == bars.time && into.cause.text.contains("\($0.symbol) exposure") }?.symbol,
            "the violation was not made by the beat's own fills: \(into.cause.text)")
        #expect(!o.fills.contains { $0.symbol == symbol && $0.at < bars.time })

        // The portfolio published at the beat holds the fill and values it at the session's close.
        let m = Fixture.market
        let i = try #require(m.symbols.firstIndex { $0.symbol == symbol })
        let d = try #require(m.dates[i].firstIndex(of: session.date))
        let close = m.bars[i][d].close
        let snapshot = try #require(o.snapshots.last { $0.asOf == bars.time })
        let position = try #require(snapshot.positions[symbol])
        #expect(position.lastMark == close && !position.quantity.isZero)
        let exposure = try close.notional(position.quantity.magnitude)
        #expect(into.cause.text.contains("\(symbol) exposure \(exposure)"), "\(into.cause.text) (\(exposure))")
    }
}
