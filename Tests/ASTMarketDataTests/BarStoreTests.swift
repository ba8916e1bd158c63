import ASTCalendar
import ASTCore
import Testing

@testable import ASTMarketData

@Suite struct BarStoreTests {
    @Test func barsRoundTripExactlyAndQueriesByDateRange() throws {
        let f = try StoreFixture()
        let bars = [
            bar("ABC", "2024-01-02", "10.1234", "10.5", "9.9999", "10.25", 12_345_678_901),
            bar("ABC", "2024-01-03", "10.25", "10.75", "10.2", "10.7"),
            bar("ABC", "2024-01-04", "10.7", "10.8", "10.1", "10.3"),
            bar("XYZ", "2024-01-03", "50", "51", "49", "50.5"),
        ]
        try f.store.write(
            StoreBatch(bars: bars, symbols: [SymbolInfo(symbol: "ABC", name: "Abc Corp", exchange: "NYSE", sector: "Industrials")]))
        #expect(try f.store.bars("ABC") == Array(bars[0..<3]))
        #expect(try f.store.bars("ABC", from: date("2024-01-03"), to: date("2024-01-03")) == [bars[1]])
        #expect(try f.store.bars("ABC", from: date("2024-01-04")) == [bars[2]])
        #expect(try f.store.lastBar("ABC") == bars[2])
        #expect(try f.store.lastBars() == [bars[2], bars[3]])
        #expect(try f.store.symbols() == ["ABC", "XYZ"])
        #expect(try f.store.symbolInfo().map(\.name) == ["Abc Corp"])
        // Re-ingesting a session replaces its bar, it does not duplicate it.
        let corrected = bar("ABC", "2024-01-04", "10.7", "10.9", "10.1", "10.4")
        try f.store.write(StoreBatch(bars: [corrected]))
        #expect(try f.store.lastBar("ABC") == corrected)
        #expect(try f.store.barCount() == 4)
    }

    @Test func aWriteIsAllOrNothing() throws {
        let f = try StoreFixture()
        let good = bar("ABC", "2024-01-02", "10", "11", "9", "10.5")
        try f.store.write(StoreBatch(bars: [good]))
        // The schema refuses an impossible bar even when validation was skipped; the good bars
        // and the metadata of the same batch are rolled back with it.
        let impossible = bar("ABC", "2024-01-04", "10", "9", "11", "10")
        #expect(throws: BarStoreError.self) {
            try f.store.write(
                StoreBatch(
                    bars: [bar("ABC", "2024-01-03", "10", "11", "9", "10.5"), impossible],
                    symbols: [SymbolInfo(symbol: "ABC", name: "x", exchange: "NYSE", sector: "y")]))
        }
        #expect(try f.store.allBars() == [good])
        #expect(try f.store.symbolInfo().isEmpty)
    }

    @Test func splitBackAdjustmentHalvesEarlierPricesAndDoublesVolume() throws {
        let f = try StoreFixture()
        let raw = [
            bar("ABC", "2024-01-02", "98", "101", "97", "100", 1000),
            bar("ABC", "2024-01-03", "100", "103", "99.99", "102", 1000),
            bar("ABC", "2024-01-04", "51", "52.5", "50.5", "52", 2000),
        ]
        try f.store.write(
            StoreBatch(
                bars: raw, actions: [CorporateAction(symbol: "ABC", exDate: date("2024-01-04"), kind: .split(newShares: 2, oldShares: 1))]))
        let adjusted = try f.store.bars("ABC", adjustment: .splits)
        #expect(adjusted[0] == bar("ABC", "2024-01-02", "49", "50.5", "48.5", "50", 2000))
        // 99.99 / 2 = 49.995 exactly: four decimals hold it.
        #expect(adjusted[1] == bar("ABC", "2024-01-03", "50", "51.5", "49.995", "51", 2000))
        #expect(adjusted[2] == raw[2])
        #expect(try f.store.bars("ABC") == raw)
        // A range read adjusts with the whole history: the split after the range still counts.
        #expect(try f.store.bars("ABC", to: date("2024-01-02"), adjustment: .splits) == [adjusted[0]])
    }

    @Test func dividendBackAdjustmentUsesThePreviousClose() throws {
        let f = try StoreFixture()
        let raw = [
            bar("ABC", "2024-01-02", "99", "101", "98", "100", 1000),
            bar("ABC", "2024-01-03", "99", "100", "98", "99.5", 1000),
            bar("ABC", "2024-01-04", "50", "51", "49", "50", 2000),
        ]
        try f.store.write(
            StoreBatch(
                bars: raw,
                actions: [
                    CorporateAction(symbol: "ABC", exDate: date("2024-01-03"), kind: .dividend(price("1.00"))),
                    CorporateAction(symbol: "ABC", exDate: date("2024-01-04"), kind: .split(newShares: 2, oldShares: 1)),
                ]))
        // Before the dividend: × (1 − 1.00 / 100.00) = 0.99, and × 1/2 for the split.
        let both = try f.store.bars("ABC", adjustment: .splitsAndDividends)
        #expect(both[0] == bar("ABC", "2024-01-02", "49.005", "49.995", "48.51", "49.5", 2000))
        #expect(both[1] == bar("ABC", "2024-01-03", "49.5", "50", "49", "49.75", 2000))
        #expect(both[2] == raw[2])
        // Splits only: the dividend is ignored.
        #expect(try f.store.bars("ABC", adjustment: .splits)[0] == bar("ABC", "2024-01-02", "49.5", "50.5", "49", "50", 2000))
        #expect(try f.store.corporateActions("ABC").count == 2)
    }

    @Test func reverseSplitAndThreeForOneRoundOnce() {
        let raw = [bar("ABC", "2024-01-02", "1.00", "1.00", "1.00", "1.00", 3001), bar("ABC", "2024-01-03", "3", "3", "3", "3")]
        let three = BackAdjustment.apply(
            raw, actions: [CorporateAction(symbol: "ABC", exDate: date("2024-01-03"), kind: .split(newShares: 3, oldShares: 1))],
            mode: .splits)
        #expect(three[0].close == price("0.3333") && three[0].volume == 9003)
        let reverse = BackAdjustment.apply(
            raw, actions: [CorporateAction(symbol: "ABC", exDate: date("2024-01-03"), kind: .split(newShares: 1, oldShares: 10))],
            mode: .splits)
        #expect(reverse[0].close == price("10") && reverse[0].volume == 300)
    }

    @Test func reopeningTheStoreKeepsItsData() throws {
        let f = try StoreFixture()
        let path = f.dir("reopen.sqlite")
        let first = try BarStore(path: path, logger: quiet)
        try first.write(StoreBatch(bars: [bar("ABC", "2024-01-02", "10", "11", "9", "10.5")]))
        try first.close()
        let second = try BarStore(path: path, logger: quiet)
        #expect(try second.barCount() == 1)
        try second.close()
    }
}
