import ASTCalendar
import ASTCore
import ASTTestKit
import Foundation
import Testing

/// `ast ingest --ibkr` against `FakeTWSServer`: a FAKE TWS written from IB's public API documentation,
/// sharing no code with AST's client, which checks IB's historical-data pacing rules on its side
/// with IB's own numbers; no evidence of how IB's own TWS behaves beyond those documents.
@Suite struct IBKRIngestTests {
    @Test func ingestFromIBStoresSevenYearsPacedAndAnErrorForOneSymbolStoresNothing() async throws {
        let fake = try await FakeTWSServer()
        let tree = try CLITree()
        let sessions = TradingCalendar.nyse.sessions(from: LocalDate("2019-01-02")!, to: LocalDate("2025-12-31")!)
        fake.scriptHistory(
            "SPY",
            bars: sessions.map {
                FakeTWSHistory.Bar(date: $0.date, open: "100.5", high: "101.25", low: "99.75", close: "100.12345", volume: "1000")
            })
        // 2019-01-02 ... 2025-12-31 is eight requests of at most 365 days for one contract: the sixth
        // must wait out IB's "six within two seconds" rule.
        let run = try await tree.ast([
            "ingest", "--ibkr", "SPY", "--from", "2019-01-02", "--to", "2025-12-31", "--ibkr-port", "\(fake.port)", "--ibkr-client-id",
            "17", "--store", tree.store,
        ])
        #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("ibkr:SPY: \(sessions.count) bars accepted"), "\(run.stdout)")
        let stored = try tree.storedBars("SPY")
        #expect(stored.count == sessions.count)
        #expect(stored.first?.close == Price("100.1235"), "more than four decimals round half away from zero")
        let first = fake.historyRequests
        #expect(first.count == 8 && first.allSatisfy { $0.whatToShow == "TRADES" && $0.barSize == "1 day" && $0.useRTH == "1" })

        // One symbol IB has no data for (162): the ingest fails, SPY's bars are not stored either, and
        // the new store is not left behind.
        fake.refuseHistory("NODATA", code: 162, message: "Historical Market Data Service error message:HMDS query returned no data")
        let other = tree.dir("other.sqlite")
        let refused = try await tree.ast([
            "ingest", "--ibkr", "SPY", "NODATA", "--from", "2025-01-02", "--to", "2025-12-31", "--adjustment", "all", "--ibkr-port",
            "\(fake.port)", "--ibkr-client-id", "17", "--store", other,
        ])
        // IB has no split-only series: Alpaca's `split` is refused before anything is asked.
        let split = try await tree.ast([
            "ingest", "--ibkr", "SPY", "--from", "2025-01-02", "--to", "2025-12-31", "--adjustment", "split", "--ibkr-port",
            "\(fake.port)", "--store", other,
        ])
        #expect(split.exitCode == 64 && split.stderr.contains("no split-only"), "\(split.stderr)")
        let requests = fake.historyRequests
        let received = fake.received
        let violations = fake.historyPacingViolations
        await fake.stop()
        #expect(refused.exitCode == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("nothing stored") && refused.stderr.contains("162"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: other))
        #expect(requests.dropFirst(8).map(\.whatToShow) == ["ADJUSTED_LAST", "ADJUSTED_LAST"])
        // AST never tripped IB's historical-data pacing, and sent no order: only startApi and reqHistoricalData.
        #expect(violations == 0)
        #expect(received.allSatisfy { $0.first == "71" || $0.first == "20" }, "\(received.map { $0.first ?? "" })")
    }

    /// BENCHMARKS.md: `AST_BENCH_IBKR_INGEST=1 swift test --filter IBKRIngestTests`: 20 symbols of a
    /// year each (one request per symbol, no pacing wait) through a whole `ast ingest --ibkr` process
    /// against the fake on loopback, start-up and store commit included. Skipped otherwise.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AST_BENCH_IBKR_INGEST"] == "1"))
    func benchmarkIngestBarsPerSecondAgainstTheFakeOnLoopback() async throws {
        let fake = try await FakeTWSServer()
        let tree = try CLITree()
        let sessions = TradingCalendar.nyse.sessions(from: LocalDate("2025-01-02")!, to: LocalDate("2025-12-31")!)
        let symbols = (0..<20).map { "S\(String(UnicodeScalar(UInt8(65 + $0))))" }
        for s in symbols {
            fake.scriptHistory(
                s, bars: sessions.map { FakeTWSHistory.Bar(date: $0.date, open: "10", high: "11", low: "9", close: "10.5", volume: "100") })
        }
        let start = ContinuousClock.now
        let run = try await tree.ast(
            ["ingest", "--ibkr"] + symbols + [
                "--from", "2025-01-02", "--to", "2025-12-31", "--ibkr-port", "\(fake.port)", "--ibkr-client-id", "3", "--store", tree.store,
            ])
        let elapsed = ContinuousClock.now - start
        await fake.stop()
        #expect(run.exitCode == 0, "\(run.stderr)")
        let bars = sessions.count * symbols.count
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "ibkr ingest: \(bars) bars, \(symbols.count) requests in \(String(format: "%.2f", seconds)) s = \(Int(Double(bars) / seconds)) bars/s"
        )
    }
}
