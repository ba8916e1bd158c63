import ASTCore
import Foundation
import Testing

@testable import ASTPaperBroker

/// The exchange finds a symbol's last bar by binary search over marks kept sorted by symbol
/// (a backtest sends thousands of symbols a session); these pin that the search, the insertion
/// and a restored checkpoint behave as the scan over every mark did.
@Suite struct MarkLookupTests {
    /// Symbols in a fixed shuffled order (never sorted on arrival).
    static let symbols: [Symbol] = (0..<60).map { Symbol(validating: String(format: "S%03d", ($0 * 37) % 60))! }

    @Test func barsOfManySymbolsInAnyOrderKeepOneSortedMarkEachAndIgnoreEveryStaleBar() {
        var h = Harness()
        for (k, s) in Self.symbols.enumerated() {
            let close = String(format: "%d.00", 10 + k)
            #expect(h.deliver(bar(0, close, close, close, close, symbol: s)).notices.isEmpty)
        }
        #expect(h.exchange.marks.map(\.symbol) == Self.symbols.sorted())
        for (k, s) in Self.symbols.enumerated() {
            #expect(h.exchange.mark(of: s)?.close == p(String(format: "%d.00", 10 + k)))
            let again = bar(0, "1.00", "1.00", "1.00", "1.00", symbol: s)
            #expect(h.deliver(again).notices == [.staleBarIgnored(s, start: again.start)], "\(s)")
        }
        #expect(h.exchange.mark(of: "ZZZ") == nil)
        #expect(h.exchange.mark(of: "A") == nil)
        // The next day's bars update the marks in place: still one per symbol.
        for s in Self.symbols.reversed() { #expect(h.deliver(bar(1, "5.00", "5.00", "5.00", "5.00", symbol: s)).notices.isEmpty) }
        #expect(h.exchange.marks.count == Self.symbols.count)
        #expect(h.exchange.marks.allSatisfy { $0.close == p("5.00") })
    }

    @Test func aPositionIsValuedAtItsOwnSymbolsLastCloseAmongManySymbols() throws {
        var h = Harness()
        h.submit(standalone(entry(quantity: 10, symbol: "S017")))
        for (k, s) in Self.symbols.enumerated() {
            let open = String(format: "%d.00", 10 + k), close = String(format: "%d.50", 10 + k)
            h.deliver(bar(0, open, close, open, close, symbol: s))
        }
        let k = try #require(Self.symbols.firstIndex(of: "S017"))
        // Bought 10 at the open; marked at its own close (not the average price, not another symbol's).
        #expect(h.filled(ClientOrderID(intent: "i1", leg: .entry)) == Quantity(10))
        #expect(h.exchange.equity == h.exchange.cash + Money(units: 10 * p(String(format: "%d.50", 10 + k)).units))
    }

    @Test func aCheckpointWhoseMarksAreOutOfOrderIsRestoredSorted() throws {
        var h = Harness()
        for s in Self.symbols { h.deliver(bar(0, "10.00", "10.00", "10.00", "10.00", symbol: s)) }
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(h.exchange)) as! [String: Any]
        json["marks"] = Array((json["marks"] as! [Any]).reversed())
        let restored = try JSONDecoder().decode(PaperExchange.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(restored.marks == h.exchange.marks)
        var r = Harness()
        r.exchange = restored
        let stale = bar(0, "1.00", "1.00", "1.00", "1.00", symbol: "S042")
        #expect(r.deliver(stale).notices == [.staleBarIgnored("S042", start: stale.start)])
    }
}
