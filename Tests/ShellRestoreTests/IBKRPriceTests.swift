import ASTCore
import ASTIBKR
import ASTTWS
import Testing

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

/// broker@ibkr takes a fill's commission from IB's commissionReport, checked before it is used.
@Suite struct IBKRCommissionTests {
    static func report(_ commission: String, _ currency: String = "USD") throws -> TWSCommissionReport {
        let fields = ["59", "1", "0000e0d5.1.01.01", commission, currency, "1.7976931348623157E308", "1.7976931348623157E308", "0"]
        let bytes = fields.reduce(into: [UInt8]()) { $0 += Array($1.utf8) + [0] }
        guard case .commissionReport(let c) = try TWSMessage.decode(bytes, at: .highest) else {
            throw CommissionTestError()
        }
        return c
    }

    struct CommissionTestError: Error {}

    @Test(arguments: [("1.0", "1.00"), ("1.25", "1.25"), ("0", "0"), ("0.3547", "0.3547")])
    func aDollarCommissionIsTaken(_ text: String, _ expected: String) throws {
        let money = try #require(IBKRAdapter.commission(try Self.report(text)))
        #expect(money == Money(units: try #require(Price(expected)).units))
    }

    @Test(arguments: [
        ("1.7976931348623157E308", "USD"), ("-1.00", "USD"), ("2000000", "USD"), ("1.00", "EUR"),
    ])
    func anUnsetNegativeHugeOrForeignCommissionIsRefused(_ text: String, _ currency: String) throws {
        #expect(IBKRAdapter.commission(try Self.report(text, currency)) == nil)
    }
}
