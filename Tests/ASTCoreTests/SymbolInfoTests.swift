import ASTCore
import Foundation
import Testing

/// The one description of a symbol that market data, the strategy and the engine share.
@Suite struct SymbolInfoTests {
    @Test func anEmptySectorIsNoSectorHoweverTheInfoIsMade() throws {
        #expect(SymbolInfo(symbol: "ABC", exchange: "NYSE", sector: "").sector == nil)
        #expect(SymbolInfo(symbol: "ABC", exchange: "NYSE", sector: "Energy").sector == "Energy")
        let decoded = try JSONDecoder().decode(
            SymbolInfo.self, from: Data(#"{"symbol":"ABC","exchange":"NYSE","sector":"","is_index":true}"#.utf8))
        #expect(decoded == SymbolInfo(symbol: "ABC", name: "", exchange: "NYSE", sector: nil, isIndex: true))
    }

    @Test func itRoundTripsThroughJSON() throws {
        let info = SymbolInfo(symbol: "BRK.B", name: "Berkshire", exchange: "NYSE", sector: "Financials")
        #expect(try JSONDecoder().decode(SymbolInfo.self, from: JSONEncoder().encode(info)) == info)
    }
}
