import ASTCore
import Testing

@testable import ASTPaperBroker

/// The simulated exchange's positions near the ends of 64 bits (M9): a fill whose quantity,
/// cost basis or realised P&L would not fit is not made, instead of being held at the bound.
@Suite("Paper positions: checked accumulation")
struct PositionOverflowTests {
    @Test func aQuantityBeyond64BitsIsNotBooked() {
        let p = PaperPosition(symbol: "AAPL", quantity: Quantity(.max - 5), costBasis: .zero, realized: .zero)
        #expect(p.applying(delta: Quantity(10), price: Price(units: 0)) == nil)
        #expect(p.applying(delta: Quantity(5), price: Price(units: 0))?.position.quantity == Quantity(.max))
    }

    @Test func aCostBasisBeyond64BitsIsNotBooked() {
        let p = PaperPosition(symbol: "AAPL", quantity: Quantity(1), costBasis: Money(units: .max - 100), realized: .zero)
        #expect(p.applying(delta: Quantity(1), price: Price(units: 101)) == nil)
        #expect(p.applying(delta: Quantity(1), price: Price(units: 100))?.position.costBasis == Money(units: .max))
    }

    @Test func realisedPnLBeyond64BitsIsNotBooked() {
        // Short 1 share that cost nothing; covering at a huge price loses more than the realised P&L can hold.
        let p = PaperPosition(symbol: "AAPL", quantity: Quantity(-1), costBasis: .zero, realized: Money(units: .min + 10))
        #expect(p.applying(delta: Quantity(1), price: Price(units: 11)) == nil)
        let covered = p.applying(delta: Quantity(1), price: Price(units: 10))
        #expect(covered?.position.realized == Money(units: .min) && covered?.position.quantity == .zero)
    }
}
