import ASTCalendar
import ASTCore
import ASTMarketData
import ASTRisk
import ASTScanInput
import ASTStrategy
import ASTTestKit
import Logging
import Testing

/// The bundled data set installed into a fresh store, shared by the suite's tests.
final class BundledStore: Sendable {
    let dir: TemporaryDirectory
    let store: BarStore

    init() throws {
        dir = try TemporaryDirectory(prefix: "ast-scaninput")
        store = try BarStore(path: dir("bars.sqlite"), logger: Logger(label: "test"))
        try BundledData.install(into: store, logger: Logger(label: "test"))
    }

    deinit {
        try? store.close()
        dir.remove()
    }

    func input(_ date: LocalDate) throws -> ScanInput {
        let now = NewYorkTime.timestamp(date, LocalTime(hour: 9, minute: 0))
        let cash = Money(dollars: 100_000)!
        return try ScanInputLoader.load(
            from: store, date: date, now: now,
            portfolio: PortfolioSnapshot(asOf: now, cash: cash, equity: cash, peakEquity: cash, startOfDayEquity: cash))
    }
}

@Suite("Scan input from the bar store", .serialized)
struct ScanInputLoaderTests {
    let data: BundledStore

    init() throws { data = try BundledStore() }

    @Test func readsOnlyBarsBeforeTheDateAndSeparatesTheIndexes() throws {
        let date = LocalDate("2025-07-01")!
        let input = try data.input(date)
        #expect(input.universe.count == 50)
        #expect(!input.universe.contains { $0.info.isIndex })
        #expect(input.index.first?.symbol == "IDX")
        #expect(input.volatilityIndex.first?.symbol == "VOLX")
        for history in input.universe {
            #expect(history.bars.last.map { NewYorkTime.local($0.start).date } == LocalDate("2025-06-30"), "\(history.info.symbol)")
        }
        #expect(input.index.allSatisfy { NewYorkTime.local($0.start).date < date })
        #expect(input.events.allSatisfy { abs($0.date.daysSinceEpoch - date.daysSinceEpoch) <= ScanInputLoader.eventDays })
    }

    @Test func adjustsForASplitOnlyFromItsExDate() throws {
        let split = try #require(try data.store.corporateActions("NVX").first { if case .split = $0.kind { true } else { false } })
        let lastBefore = try #require(
            TradingCalendar.nyse.sessions(from: split.exDate.adding(days: -7), to: split.exDate.adding(days: -1)).last)
        let raw = try #require(try data.store.bars("NVX", from: lastBefore.date, to: lastBefore.date).first)

        // The scan before the ex-date knows nothing of the split: raw prices.
        let before = try #require(try data.input(lastBefore.date.adding(days: 1)).universe.first { $0.info.symbol == "NVX" })
        // On the ex-date the split is known: earlier bars are halved (2:1).
        let on = try #require(try data.input(split.exDate).universe.first { $0.info.symbol == "NVX" })
        if split.exDate > lastBefore.date.adding(days: 1) {
            #expect(before.bars.last?.close == raw.close)
        }
        let adjusted = try #require(on.bars.last)
        #expect(NewYorkTime.local(adjusted.start).date == lastBefore.date)
        #expect(abs(adjusted.close.units * 2 - raw.close.units) <= 1, "\(adjusted.close) vs raw \(raw.close)")
        #expect(adjusted.volume == raw.volume * 2)
    }
}

/// A symbol whose sector is unknown reaches the strategy (and the risk gate) as no sector, never
/// as a sector named "": the gate blocks entries in it (REFERENCE_DATA_MISSING) instead of
/// lumping every such symbol into one "(unknown)" sector.
@Test func aSymbolWithoutASectorHasNoSectorInTheScanInput() throws {
    let dir = try TemporaryDirectory(prefix: "ast-scaninput-sector")
    defer { dir.remove() }
    let store = try BarStore(path: dir("bars.sqlite"), logger: Logger(label: "test"))
    defer { try? store.close() }
    let bar = Bar(
        symbol: "ABC", resolution: .day, start: NewYorkTime.timestamp(LocalDate("2026-12-03")!, TradingCalendar.regularOpen),
        open: Price(units: 100_000), high: Price(units: 110_000), low: Price(units: 90_000), close: Price(units: 105_000), volume: 1_000)
    try store.write(
        StoreBatch(
            bars: [
                bar,
                Bar(
                    symbol: "DEF", resolution: .day, start: bar.start, open: bar.open, high: bar.high, low: bar.low, close: bar.close,
                    volume: 1),
            ],
            symbols: [
                SymbolInfo(symbol: "ABC", name: "ABC", exchange: "NYSE", sector: ""),
                SymbolInfo(symbol: "DEF", name: "DEF", exchange: "NYSE", sector: "Energy"),
            ]))
    let date = LocalDate("2026-12-04")!
    let now = NewYorkTime.timestamp(date, LocalTime(hour: 9, minute: 0))
    let cash = Money(dollars: 100_000)!
    let input = try ScanInputLoader.load(
        from: store, date: date, now: now,
        portfolio: PortfolioSnapshot(asOf: now, cash: cash, equity: cash, peakEquity: cash, startOfDayEquity: cash))
    let sectors = Dictionary(uniqueKeysWithValues: input.universe.map { ($0.info.symbol, $0.info.sector) })
    #expect(sectors["ABC"] == .some(nil), "no sector: \(sectors)")
    #expect(sectors["DEF"] == "Energy")
}
