import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMarketData
import ASTTestKit
import Foundation
import Logging
import Synchronization
import Testing

/// One run of the built `ast` executable in a temporary tree.
struct ASTRun {
    var exitCode: Int32?
    var stdout: String
    var stderr: String
}

/// A temporary directory with a state directory and the repository's etc/ as configuration.
final class CLITree {
    let dir: TemporaryDirectory
    private let runs = Mutex(0)

    init() throws { dir = try TemporaryDirectory(prefix: "ast-cli") }
    deinit { dir.remove() }

    var store: String { dir("bars.sqlite") }

    /// Runs `ast arguments...` to completion (killed after `timeout`).
    func ast(_ arguments: [String], environment extra: [String: String] = [:], timeout: Duration = .seconds(120)) async throws -> ASTRun {
        let n = runs.withLock {
            $0 += 1
            return $0
        }
        var env = [
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "AST_CONFIG_DIR": BuildProducts.packageRoot + "/etc",
            "AST_ENV": "development",
            "AST_STATE_DIR": dir("state"),
            "AST_RUNTIME_DIR": dir("run"),
        ]
        env.merge(extra) { $1 }
        let child = try ChildProcess(
            try BuildProducts.executable("ast"), arguments, environment: env, name: "ast-\(n)", outputDirectory: dir.path)
        defer { child.stop(graceSeconds: 1) }
        let status = try await child.waitForExit(timeout: timeout)
        return ASTRun(exitCode: ChildProcess.exitCode(status), stdout: child.stdout, stderr: child.stderr)
    }

    /// Writes `text` to `name` in the tree and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: dir(name), atomically: true, encoding: .utf8)
        return dir(name)
    }

    /// The raw bars of `symbol` in the tree's store.
    func storedBars(_ symbol: Symbol) throws -> [Bar] {
        let s = try BarStore(path: store, logger: Logger(label: "test"))
        defer { try? s.close() }
        return try s.bars(symbol)
    }
}

let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/XYZ.csv").path

@Suite("ast command line")
struct ASTCommandTests {
    // MARK: indicators

    @Test func indicatorsPrintOneRowPerBarThatMatchesTheBatchFunctions() async throws {
        let tree = try CLITree()
        let run = try await tree.ast(["indicators", "--csv", fixture, "--indicator", "rsi:14", "--indicator", "macd:12,26,9"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "date,rsi_14,macd_12_26_9,macd_signal_12_26_9,macd_hist_12_26_9")

        let bars = try CSVBarParser.parse(String(contentsOfFile: fixture, encoding: .utf8), file: fixture).bars.map(\.bar)
        #expect(lines.count == bars.count + 1)
        let rsi = RSI(period: 14).batch(bars)
        let macd = MACD(fast: 12, slow: 26, signal: 9).batch(bars)
        for (i, bar) in bars.enumerated() {
            let cells = lines[i + 1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            try #require(cells.count == 5, "row \(i + 1): \(lines[i + 1])")
            #expect(cells[0] == NewYorkTime.local(bar.start).date.description)
            let expected: [Double?] = [rsi[i], macd[i]?.macd, macd[i]?.signal, macd[i]?.histogram]
            for (cell, value) in zip(cells.dropFirst(), expected) {
                if let value {
                    let printed = try #require(Double(cell), "row \(i + 1): '\(cell)' is not a number")
                    #expect(abs(printed - value) <= 0.000_000_5 + 1e-12, "row \(i + 1): \(cell) vs \(value)")
                    #expect(cell.split(separator: ".").last?.count == 6, "six decimals: \(cell)")
                } else {
                    #expect(cell.isEmpty, "row \(i + 1): warm-up cell should be empty, got '\(cell)'")
                }
            }
        }
        // Warm-up as documented: RSI 14 from the 15th bar, MACD 12,26,9 from the 34th.
        #expect(rsi[13] == nil && rsi[14] != nil)
        #expect(macd[32] == nil && macd[33] != nil)
    }

    @Test func indicatorsRefuseABadSpecWithTheSpecErrorAndUsageExit() async throws {
        let tree = try CLITree()
        let run = try await tree.ast(["indicators", "--csv", fixture, "--indicator", "macd:26,12,9"])
        #expect(run.exitCode == 64)
        #expect(run.stderr.contains("indicator 'macd:26,12,9': fast period must be shorter than slow period"))
        #expect(run.stdout.isEmpty)
        let unknown = try await tree.ast(["indicators", "--csv", fixture, "--indicator", "vwap:5"])
        #expect(unknown.exitCode == 64)
        #expect(unknown.stderr.contains("unknown indicator 'vwap'"))
    }

    // MARK: calendar

    @Test func calendarOmitsThanksgivingAndShiftsTheScheduleOfTheEarlyClose() async throws {
        let tree = try CLITree()
        let run = try await tree.ast(["calendar", "--from", "2026-11-23", "--to", "2026-11-30"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.map { String($0.prefix(10)) } == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"])
        #expect(
            lines[0] == "2026-11-23 Mon 09:30-16:00 EST | 09:00 full_scan, 10:30 reconcile, 12:30 reconcile, "
                + "14:30 reconcile_and_reduce, 15:55 pre_close_cleanup, 16:40 after_market")
        #expect(
            lines[3] == "2026-11-27 Fri 09:30-13:00 EST early close | 09:00 full_scan, 10:30 reconcile, "
                + "12:30 reconcile_and_reduce, 12:55 pre_close_cleanup, 13:40 after_market")
    }

    @Test func calendarKeepsNewYorkHoursAcrossTheSpringDaylightSavingChange() async throws {
        let tree = try CLITree()
        let run = try await tree.ast(["calendar", "--from", "2026-03-06", "--to", "2026-03-09", "--json"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["date"] as? String } == ["2026-03-06", "2026-03-09"])
        #expect(rows.map { $0["open"] as? String } == ["09:30", "09:30"])
        #expect(rows.map { $0["zone"] as? String } == ["EST", "EDT"])
        // The same wall-clock open is an hour earlier in UTC once daylight saving starts (March 8).
        #expect(rows.map { $0["open_utc"] as? String } == ["2026-03-06T14:30:00.000Z", "2026-03-09T13:30:00.000Z"])
        let scan = (rows[1]["schedule"] as? [[String: Any]])?.first
        #expect(scan?["task"] as? String == "full_scan")
        #expect(scan?["utc"] as? String == "2026-03-09T13:00:00.000Z")
    }

    // MARK: ingest

    @Test func ingestOfABadCSVExits65NamesTheLineAndLeavesTheStoreUnchanged() async throws {
        let tree = try CLITree()
        let good = try await tree.ast(["ingest", "--csv", fixture, "--store", tree.store])
        #expect(good.exitCode == 0, "\(good.stderr)")
        #expect(good.stdout.contains("ingest stored 70 bars"))
        let before = try tree.storedBars("XYZ")
        #expect(before.count == 70)

        // Line 3 has high below low; line 4 is fine.
        let bad = try tree.write(
            "ABC.csv",
            """
            Date,Open,High,Low,Close,Adj Close,Volume
            2025-01-02,10.00,10.50,9.80,10.20,10.20,1000
            2025-01-03,10.20,9.00,10.10,10.30,10.30,1000
            2025-01-06,10.30,10.60,10.10,10.40,10.40,1000

            """)
        let refused = try await tree.ast(["ingest", "--csv", bad, fixture, "--store", tree.store])
        #expect(refused.exitCode == 65)
        #expect(refused.stdout.contains("ingest refused, nothing stored"))
        let line3 = refused.stdout.split(separator: "\n").filter { $0.contains("error \(bad):3 ABC 2025-01-03:") }
        #expect(line3.contains { $0.contains("is below low") }, "\(refused.stdout)")
        #expect(refused.stderr.contains("nothing stored"))
        #expect(try tree.storedBars("ABC").isEmpty)
        #expect(try tree.storedBars("XYZ") == before)
    }

    @Test func ingestLenientDropsTheBadRowAndStoresTheRest() async throws {
        let tree = try CLITree()
        let bad = try tree.write(
            "ABC.csv",
            """
            Date,Open,High,Low,Close,Adj Close,Volume
            2025-01-02,10.00,10.50,9.80,10.20,10.20,1000
            2025-01-03,10.20,9.00,10.10,10.30,10.30,1000
            2025-01-06,10.30,10.60,10.10,10.40,10.40,1000

            """)
        let run = try await tree.ast(["ingest", "--csv", bad, "--lenient", "--store", tree.store])
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(run.stdout.contains("\(bad):3"))
        #expect(try tree.storedBars("ABC").count == 2)
    }

    @Test func ingestWithoutASourceIsAUsageError() async throws {
        let tree = try CLITree()
        let run = try await tree.ast(["ingest", "--store", tree.store])
        #expect(run.exitCode == 64)
        #expect(run.stderr.contains("exactly one source"))
    }

    @Test func ingestFromPolygonStoresTheBarsAndNeverPrintsTheKey() async throws {
        let tree = try CLITree()
        let key = "pk_cli_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
        let days = ["2025-01-02", "2025-01-03", "2025-01-06"]
        let aggregates = days.map { d in
            FakePolygonServer.Aggregate(
                t: NewYorkTime.timestamp(LocalDate(d)!, LocalTime(hour: 0, minute: 0)).nanoseconds / 1_000_000,
                o: "10.1", h: "10.5", l: "9.9", c: "10.2", v: "1500")
        }
        let server = try await FakePolygonServer(apiKey: key, data: ["ABC": aggregates])
        let credentials = tree.dir("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try key.write(toFile: "\(credentials)/polygon_api_key", atomically: true, encoding: .utf8)
        let env = ["CREDENTIALS_DIRECTORY": credentials, "AST_MARKETDATA__POLYGON__BASE_URL": server.baseURL]

        let run = try await tree.ast(
            ["ingest", "--polygon", "ABC", "--from", "2025-01-02", "--to", "2025-01-06", "--store", tree.store],
            environment: env)
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(run.stdout.contains("polygon:ABC: 3 bars accepted"))
        #expect(try tree.storedBars("ABC").count == 3)

        server.setFallback(.errorStatus(http: 403, message: "not entitled"))
        let refused = try await tree.ast(
            ["ingest", "--polygon", "ABC", "--from", "2025-01-07", "--to", "2025-01-08", "--store", tree.store],
            environment: env)
        await server.stop()
        #expect(refused.exitCode == 1)
        #expect(refused.stderr.contains("nothing stored"))
        #expect(try tree.storedBars("ABC").count == 3)
        for output in [run.stdout, run.stderr, refused.stdout, refused.stderr] {
            #expect(!output.contains(key))
        }
    }

    @Test func ingestFromAlpacaStoresTheBarsAllOrNothingAndNeverPrintsTheKeys() async throws {
        let tree = try CLITree()
        let keyID = "PKCLI\(UUID().uuidString.prefix(8))"
        let secret = "cli-secret-\(UUID().uuidString)"
        let certificates = try TestCertificates(directory: tree.dir("tls"))
        let server = try await FakeAlpacaServer(
            keyID: keyID, secretKey: secret, certificate: certificates.certificateFile, key: certificates.keyFile)
        server.generateBars("ABC", from: LocalDate("2025-01-02")!, sessions: 3)
        server.generateBars("XYZ", from: LocalDate("2025-01-02")!, sessions: 3)
        server.corruptBar(symbol: "XYZ", date: LocalDate("2025-01-03")!)
        let credentials = tree.dir("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try keyID.write(toFile: "\(credentials)/alpaca_key_id", atomically: true, encoding: .utf8)
        try secret.write(toFile: "\(credentials)/alpaca_secret_key", atomically: true, encoding: .utf8)
        let env = [
            "CREDENTIALS_DIRECTORY": credentials, "AST_MARKETDATA__ALPACA__BASE_URL": server.baseURL,
            "AST_MARKETDATA__ALPACA__CA_FILE": certificates.caFile,
        ]
        let refused = try await tree.ast(
            ["ingest", "--alpaca", "ABC", "XYZ", "--from", "2025-01-02", "--to", "2025-01-06", "--store", tree.store], environment: env)
        #expect(refused.exitCode == 65, "\(refused.stderr)")
        #expect(refused.stdout.contains("alpaca:XYZ"))
        let run = try await tree.ast(
            ["ingest", "--alpaca", "ABC", "--from", "2025-01-02", "--to", "2025-01-06", "--adjustment", "split", "--store", tree.store],
            environment: env)
        await server.stop()
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(run.stdout.contains("alpaca:ABC: 3 bars accepted"))
        #expect(try tree.storedBars("ABC").count == 3)
        #expect(server.barsQueries.last?.contains("adjustment=split") == true)
        for output in [run.stdout, run.stderr, refused.stdout, refused.stderr] {
            #expect(!output.contains(secret) && !output.contains(keyID))
        }
    }

    @Test func ingestFromPolygonRefusesAPlainHTTPEndpointInTheConfiguration() async throws {
        let tree = try CLITree()
        let run = try await tree.ast(
            ["ingest", "--polygon", "ABC", "--from", "2025-01-02", "--to", "2025-01-06", "--store", tree.store],
            environment: ["AST_MARKETDATA__POLYGON__BASE_URL": "http://api.polygon.io"])
        #expect(run.exitCode == 1)
        #expect(run.stderr.contains("marketdata.polygon.base_url"), "\(run.stderr)")
        #expect(run.stderr.contains("https://"))
    }

    // MARK: scan

    @Test func scanOfTheBundledDataGivesJSONForATradingDayAndANoteForAHoliday() async throws {
        let tree = try CLITree()
        let installed = try await tree.ast(["ingest", "--bundled", "--store", tree.store])
        #expect(installed.exitCode == 0, "\(installed.stderr)")

        let day = try await tree.ast(["scan", "--date", "2025-07-01", "--json", "--store", tree.store])
        #expect(day.exitCode == 0, "\(day.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(day.stdout.utf8)) as? [String: Any])
        #expect(result["date"] as? String == "2025-07-01")
        #expect(result["trading_day"] as? Bool == true)
        #expect(result["previous_session"] as? String == "2025-06-30")
        let universe = try #require(result["universe"] as? [String: Any])
        #expect(universe["considered"] as? Int == 50)
        #expect(((universe["included"] as? [Any])?.count ?? 0) > 0)

        let holiday = try await tree.ast(["scan", "--date", "2025-07-04", "--json", "--store", tree.store])
        #expect(holiday.exitCode == 0, "\(holiday.stderr)")
        let closed = try #require(try JSONSerialization.jsonObject(with: Data(holiday.stdout.utf8)) as? [String: Any])
        #expect(closed["trading_day"] as? Bool == false)
        #expect((closed["notes"] as? [String])?.contains("2025-07-04 is not an NYSE trading day: no scan") == true)
        #expect((closed["intents"] as? [Any])?.isEmpty == true)

        let text = try await tree.ast(["scan", "--date", "2025-07-01", "--store", tree.store])
        #expect(text.exitCode == 0, "\(text.stderr)")
        #expect(text.stdout.contains("universe: 50 considered"))
        #expect(text.stdout.contains("regime: "))
        #expect(text.stdout.contains("intents: "))
    }

    @Test func scanWithoutAStoreSaysHowToMakeOne() async throws {
        let tree = try CLITree()
        let run = try await tree.ast(["scan", "--date", "2025-07-01", "--store", tree.dir("missing.sqlite")])
        #expect(run.exitCode == 1)
        #expect(run.stderr.contains("ast ingest"))
    }
}
