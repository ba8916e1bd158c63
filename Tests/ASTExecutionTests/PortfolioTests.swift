import ASTCore
import ASTRisk
import Foundation
import Testing

@testable import ASTExecution

private func buy(_ q: Int64, _ p: String, _ symbol: Symbol = "AAPL", commission: String = "0", id: String = #function) -> Fill {
    fill("\(id)-b\(q)-\(p)", "o-1", .buy, q, p, symbol: symbol, commission: commission)
}

private func sell(_ q: Int64, _ p: String, _ symbol: Symbol = "AAPL", commission: String = "0", id: String = #function) -> Fill {
    fill("\(id)-s\(q)-\(p)", "o-1", .sell, q, p, symbol: symbol, commission: commission)
}

private func portfolio(_ fills: Fill...) -> Portfolio {
    var p = Portfolio(startingCash: money("100000"))
    for f in fills { p.apply(f) }
    return p
}

@Test func buyingOpensALongAndSpendsCash() {
    let p = portfolio(buy(100, "50.00"))
    #expect(p.cash == money("95000"))
    #expect(p.positions["AAPL"] == Position(symbol: "AAPL", quantity: 100, averagePrice: price("50.00"), costBasis: money("5000")))
    #expect(p.equity == money("100000"))
    #expect(p.realizedPnL == .zero)
}

@Test func increasingMovesTheAveragePrice() {
    let p = portfolio(buy(100, "50.00"), buy(100, "52.00"))
    #expect(p.positions["AAPL"]?.quantity == 200)
    #expect(p.positions["AAPL"]?.averagePrice == price("51.00"))
}

@Test func reducingRealisesAndKeepsTheAveragePrice() {
    let p = portfolio(buy(100, "50.00"), buy(100, "52.00"), sell(50, "55.00"))
    #expect(p.positions["AAPL"]?.quantity == 150)
    #expect(p.positions["AAPL"]?.averagePrice == price("51.00"))
    #expect(p.realizedPnL == money("200"))  // 50 x (55 - 51)
    #expect(p.cash == money("92550"))  // 100000 - 5000 - 5200 + 2750
}

@Test func closingAShortRealisesTheDifferenceTheOtherWay() {
    let p = portfolio(sell(100, "50.00"), buy(40, "45.00"))
    #expect(p.positions["AAPL"]?.quantity == -60)
    #expect(p.positions["AAPL"]?.averagePrice == price("50.00"))
    #expect(p.realizedPnL == money("200"))  // 40 x (50 - 45)
    #expect(p.cash == money("103200"))  // 100000 + 5000 - 1800
    #expect(p.equity == money("100200"))  // marked at the average price
}

@Test func longFlipsThroughZeroIntoAShortAtTheFillPrice() {
    let p = portfolio(buy(100, "50.00"), sell(150, "55.00"))
    #expect(p.realizedPnL == money("500"))
    #expect(p.positions["AAPL"] == Position(symbol: "AAPL", quantity: -50, averagePrice: price("55.00"), costBasis: money("-2750")))
}

@Test func shortFlipsThroughZeroIntoALong() {
    let p = portfolio(sell(100, "50.00"), buy(130, "48.00"))
    #expect(p.realizedPnL == money("200"))
    #expect(p.positions["AAPL"] == Position(symbol: "AAPL", quantity: 30, averagePrice: price("48.00"), costBasis: money("1440")))
}

@Test func closingToZeroRemovesThePosition() {
    let p = portfolio(buy(100, "50.00"), sell(100, "49.00"))
    #expect(p.positions.isEmpty)
    #expect(p.realizedPnL == money("-100"))
    #expect(p.equity == money("99900"))
}

@Test func commissionsComeOutOfCashNotOutOfRealisedPnL() {
    let p = portfolio(buy(100, "50.00", commission: "1.00"), sell(100, "51.00", commission: "1.25"))
    #expect(p.commissions == money("2.25"))
    #expect(p.realizedPnL == money("100"))
    #expect(p.cash == money("100097.75"))
    #expect(p.equity == p.startingCash + p.realizedPnL - p.commissions)
}

@Test func roundedAveragePriceStillRealisesExactlyOverAPositionsLife() {
    // 3 shares cost 30.0001: the average rounds to 10.0000, the cost basis keeps the 0.0001.
    let p1 = portfolio(buy(1, "10.0001"), buy(2, "10.00"))
    #expect(p1.positions["AAPL"]?.averagePrice == price("10.00"))
    #expect(p1.positions["AAPL"]?.costBasis == money("30.0001"))
    let p2 = portfolio(buy(1, "10.0001"), buy(2, "10.00"), sell(1, "11.00"), sell(2, "11.00"))
    #expect(p2.realizedPnL == money("2.9999"))
    #expect(p2.equity == p2.startingCash + p2.realizedPnL)
}

@Test func marksValueThePositionsAndDriveUnrealisedPnL() {
    var p = portfolio(buy(100, "50.00"), sell(50, "20.00", "MSFT"))
    #expect(p.unrealizedPnL == .zero)  // no marks: valued at the average price
    p.mark("AAPL", price: price("52.00"), at: at(1))
    p.mark("MSFT", price: price("21.00"), at: at(1))
    #expect(p.equity == p.cash + money("5200") - money("1050"))
    #expect(p.unrealizedPnL(for: "AAPL") == money("200"))
    #expect(p.unrealizedPnL(for: "MSFT") == money("-50"))
    #expect(p.unrealizedPnL == money("150"))
}

@Test func anOlderMarkIsIgnored() {
    var p = portfolio(buy(100, "50.00"))
    let newer = p.mark("AAPL", price: price("52.00"), at: at(10))
    let older = p.mark("AAPL", price: price("40.00"), at: at(5))
    #expect(newer)
    #expect(!older)
    #expect(p.marks["AAPL"] == Mark(price: price("52.00"), at: at(10)))
}

@Test func peakEquityRisesWithEquityAndNeverFalls() {
    var p = portfolio(buy(100, "50.00"))
    #expect(p.peakEquity == money("100000"))
    p.mark("AAPL", price: price("60.00"), at: at(1))
    #expect(p.peakEquity == money("101000"))
    p.mark("AAPL", price: price("45.00"), at: at(2))
    #expect(p.equity == money("99500"))
    #expect(p.peakEquity == money("101000"))
}

@Test func startDayTakesTheCurrentEquityAsTheDaysReference() {
    var p = portfolio(buy(100, "50.00"))
    #expect(p.startOfDayEquity == money("100000"))
    p.mark("AAPL", price: price("55.00"), at: at(1))
    p.startDay(at: at(2))
    #expect(p.startOfDayEquity == money("100500"))
    #expect(p.dayStartedAt == at(2))
    p.mark("AAPL", price: price("50.00"), at: at(3))
    #expect(p.startOfDayEquity == money("100500"))
}

@Test func snapshotCarriesWhatTheRiskGateNeeds() {
    var p = portfolio(buy(100, "50.00", commission: "1.00"), sell(10, "300.00", "MSFT"))
    p.mark("AAPL", price: price("51.00"), at: at(1))
    let s = p.snapshot(asOf: at(2), openEntryOrders: 3, sectors: ["AAPL": "tech"])
    #expect(s.asOf == at(2))
    #expect(s.cash == money("97999"))
    #expect(s.equity == money("97999") + money("5100") - money("3000"))
    #expect(s.peakEquity == money("100099"))
    #expect(s.startOfDayEquity == money("100000"))
    #expect(s.openOrders == 3)
    #expect(
        s.positions == [
            "AAPL": PositionSnapshot(quantity: 100, averagePrice: price("50.00"), sector: "tech", lastMark: price("51.00")),
            "MSFT": PositionSnapshot(quantity: -10, averagePrice: price("300.00"), sector: nil, lastMark: price("300.00")),
        ])
}

@Test func portfolioRoundTripsThroughJSONWithSortedCollections() throws {
    var p = portfolio(buy(100, "50.00"), sell(10, "300.00", "MSFT"), buy(5, "10.00", "A"))
    p.mark("MSFT", price: price("290.00"), at: at(1))
    p.mark("ZZZ", price: price("1.00"), at: at(1))
    let text = try json(p)
    let back = try JSONDecoder().decode(Portfolio.self, from: Data(text.utf8))
    #expect(back == p)
    #expect(back.equity == p.equity)
    #expect(try json(back) == text)
    let positions = try #require(text.range(of: "\"positions\""))
    let a = try #require(text.range(of: "\"A\"", range: positions.upperBound..<text.endIndex))
    let m = try #require(text.range(of: "\"MSFT\"", range: positions.upperBound..<text.endIndex))
    #expect(a.lowerBound < m.lowerBound)
}
