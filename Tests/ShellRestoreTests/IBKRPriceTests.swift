import ASTCore
import Testing

@testable import ast_broker

/// broker@ibkr rounds every price to the configured minimum tick before it is sent.
@Suite struct IBKRPriceTests {
    @Test(arguments: [
        ("100.004", "0.01", "100.00"), ("100.005", "0.01", "100.01"), ("99.999", "0.01", "100.00"), ("12.3456", "0.0001", "12.3456"),
        ("12.37", "0.05", "12.35"), ("12.38", "0.05", "12.40"), ("150", "0.01", "150"),
    ])
    func pricesAreRoundedToTheNearestTick(_ price: String, _ tick: String, _ expected: String) throws {
        let rounded = IBKRAdapter.round(try #require(Price(price)), tick: try #require(Price(tick)))
        #expect(rounded == Price(expected))
    }
}
