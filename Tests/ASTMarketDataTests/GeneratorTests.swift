import ASTCalendar
import ASTCore
import CCrypto
import Foundation
import Testing

@testable import ASTMarketData

/// SHA-256 (libcrypto) of every file of the universe in order: name, NUL, contents, NUL.
func fingerprint(_ u: GeneratedUniverse) -> String {
    var bytes: [UInt8] = []
    for (name, contents) in u.files() {
        bytes += Array(name.utf8) + [0] + Array(contents.utf8) + [0]
    }
    var digest = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    let ok = bytes.withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &digest, &length, EVP_sha256(), nil) }
    precondition(ok == 1 && length == 32)
    return digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

func returns(_ bars: [Bar]) -> [Double] {
    zip(bars.dropFirst(), bars).map { Double($0.close.units) / Double($1.close.units) - 1 }
}

func correlation(_ a: [Double], _ b: [Double]) -> Double {
    let n = Double(a.count), ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for (x, y) in zip(a, b) {
        sab += (x - ma) * (y - mb)
        saa += (x - ma) * (x - ma)
        sbb += (y - mb) * (y - mb)
    }
    return sab / (saa * sbb).squareRoot()
}

@Suite struct GeneratorTests {
    static let universe = UniverseGenerator.generate()

    @Test func outputIsReproducibleToTheByte() {
        let again = UniverseGenerator.generate()
        #expect(again == Self.universe)
        #expect(fingerprint(Self.universe) == "ea698cd5905f6d3772a5df4dcf234149e276d9b4fb356bbd982013c765f13b4c")
        var other = UniverseGenerator.Configuration.standard
        other.seed ^= 1
        #expect(fingerprint(UniverseGenerator.generate(other)) != fingerprint(Self.universe))
    }

    @Test func generatingTheStandardUniverseIsFast() {
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = UniverseGenerator.generate().files() }
        #expect(elapsed < .seconds(3))
    }

    @Test func universeHasFiftyStocksAnIndexAndAVolatilityIndexInEightSectors() {
        let u = Self.universe
        #expect(u.symbols.count == 52)
        #expect(u.symbols.filter(\.isIndex).map(\.symbol) == ["IDX", "VOLX"])
        #expect(Set(u.symbols.filter { !$0.isIndex }.map(\.sector)).count == 8)
        #expect(Set(u.symbols.map(\.symbol)).count == 52)
    }

    @Test func everyBarIsValidAndEverySessionIsThere() {
        let u = Self.universe
        let sessions = TradingCalendar.nyse.sessions(from: date("2024-01-02"), to: date("2026-12-31"))
        #expect(sessions.count > 750)
        for (info, bars) in zip(u.symbols, u.series) {
            #expect(bars.map(\.start) == sessions.map(\.open), "\(info.symbol)")
            let report = BarValidator.validate(bars.map { SourcedBar($0) }, symbol: info.symbol)
            #expect(report.issues.isEmpty, "\(info.symbol): \(report)")
            #expect(bars.allSatisfy { $0.close.units >= 10_000 && $0.close.units < 100_000_000 && $0.symbol == info.symbol })
            if !info.isIndex || info.symbol == "IDX" { #expect(bars.allSatisfy { $0.volume > 0 }) }
        }
    }

    @Test func theSplitIsRecordedAndVisibleInRawPricesOnly() {
        let u = Self.universe
        let splits = u.actions.filter { if case .split = $0.kind { true } else { false } }
        #expect(splits == [CorporateAction(symbol: "NVX", exDate: date("2025-06-16"), kind: .split(newShares: 2, oldShares: 1))])
        #expect(u.events.contains(MarketEvent(symbol: "NVX", date: date("2025-06-16"), kind: .split)))
        let raw = u.bars(of: "NVX")
        let i = raw.firstIndex { $0.date == date("2025-06-16") }!
        let ratio = Double(raw[i].open.units) / Double(raw[i - 1].close.units)
        #expect(ratio > 0.4 && ratio < 0.6)
        #expect(raw[i].volume > raw[i - 1].volume)
        let adjusted = BackAdjustment.apply(raw, actions: u.actions.filter { $0.symbol == "NVX" }, mode: .splits)
        let adjustedRatio = Double(adjusted[i].open.units) / Double(adjusted[i - 1].close.units)
        #expect(adjustedRatio > 0.85 && adjustedRatio < 1.15)
    }

    @Test func theMarketTrendsChopsAndGaps() {
        let u = Self.universe
        let idx = u.bars(of: "IDX").map { Double($0.close.units) }
        // Over 40 sessions the index has both rallied and sold off by 5 % or more.
        let moves = (40..<idx.count).map { idx[$0] / idx[$0 - 40] - 1 }
        #expect(moves.contains { $0 > 0.05 } && moves.contains { $0 < -0.05 })
        // Overnight gaps of more than 3 % happen, but rarely.
        let stocks = zip(u.symbols, u.series).filter { !$0.0.isIndex }.map(\.1)
        let gaps = stocks.flatMap { bars in zip(bars.dropFirst(), bars).map { abs(Double($0.open.units) / Double($1.close.units) - 1) } }
        let big = Double(gaps.filter { $0 > 0.03 }.count) / Double(gaps.count)
        #expect(big > 0.005 && big < 0.08)
        // Earnings about every 63 sessions per stock, dividends recorded as actions and events.
        #expect(u.events.filter { $0.symbol == "NVX" && $0.kind == .earnings }.count >= 11)
        #expect(u.actions.filter { if case .dividend = $0.kind { true } else { false } }.count > 30)
    }

    @Test func theVolatilityIndexMovesAgainstTheIndex() {
        let u = Self.universe
        let c = correlation(returns(u.bars(of: "IDX")), returns(u.bars(of: "VOLX")))
        #expect(c < -0.5, "correlation \(c)")
        // Stocks move with the market.
        let stock = correlation(returns(u.bars(of: "CLDG")), returns(u.bars(of: "IDX")))
        #expect(stock > 0.3, "correlation \(stock)")
    }

    @Test func writtenFilesIngestBackToTheSameBars() throws {
        let f = try StoreFixture()
        try BundledData.write(into: f.dir("data"))
        let report = try MarketDataIngest.ingestDirectory(f.dir("data"), into: f.store, logger: quiet)
        #expect(report.issues.isEmpty && !report.refused)
        let key = { (b: Bar) in (b.symbol.rawValue, b.start.nanoseconds) }
        #expect(try f.store.allBars() == Self.universe.allBars.sorted { key($0) < key($1) })
        #expect(try f.store.symbolInfo() == Self.universe.symbols.sorted { $0.symbol < $1.symbol })
        #expect(try f.store.corporateActions() == Self.universe.actions)
        #expect(try f.store.events(from: date("2024-01-01"), to: date("2026-12-31")) == Self.universe.events)
    }

    @Test func bundledDataInstallsIntoAStoreInOneIngest() throws {
        let f = try StoreFixture()
        let report = try BundledData.install(into: f.store, logger: quiet)
        #expect(report.storedBars == Self.universe.allBars.count)
        #expect(try f.store.symbols().count == 52)
        #expect(try f.store.lastBar("IDX")?.date == date("2026-12-31"))
        let adjusted = try f.store.bars("NVX", from: date("2025-06-13"), to: date("2025-06-16"), adjustment: .splits)
        #expect(adjusted.count == 2)
    }
}
