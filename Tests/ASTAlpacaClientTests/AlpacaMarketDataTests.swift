import ASTAlpaca
import ASTAlpacaClient
import ASTCalendar
import ASTCore
import ASTMarketData
import ASTProcessKit
import ASTTestKit
import Logging
import Synchronization
import Testing

/// `ast ingest --alpaca`'s parts: Alpaca's bars decoded by the core, fetched by
/// ``AlpacaMarketDataClient`` from the fake Alpaca server's bars endpoint (ASTTestKit, written
/// from Alpaca's market-data documentation) over real HTTPS, and stored all or nothing.
@Suite(.serialized) struct AlpacaMarketDataTests {
    static let key = "PKTESTKEY0000002"
    static let secret = "bars-secret-never-logged"

    /// A wall clock that moves only when the client sleeps (no test waits for real).
    final class TestClock: WallClock, Sendable {
        let time: Mutex<Timestamp>
        let slept = Mutex<[Duration]>([])
        init(_ start: Timestamp) { time = Mutex(start) }
        func now() -> Timestamp { time.withLock { $0 } }
        func sleep(_ d: Duration) {
            slept.withLock { $0.append(d) }
            time.withLock { $0 = $0.advanced(by: d) }
        }
        var sleeps: [Duration] { slept.withLock { $0 } }
    }

    struct Harness {
        let directory: TemporaryDirectory
        let server: FakeAlpacaServer
        let client: AlpacaMarketDataClient
        let clock: TestClock

        func stop() async {
            await client.shutdown()
            await server.stop()
            directory.remove()
        }
    }

    static func harness(secret clientSecret: String = secret, pageLimit: Int = 5, maxAttempts: Int = 3) async throws -> Harness {
        let directory = try TemporaryDirectory(prefix: "ast-alpaca-bars")
        let certificates = try TestCertificates(directory: directory("tls"))
        let server = try await FakeAlpacaServer(
            keyID: key, secretKey: secret, certificate: certificates.certificateFile, key: certificates.keyFile)
        // The fake's rate-limit headers are Unix seconds: the test clock starts at the real time.
        let clock = TestClock(SystemClock().now())
        let settings = AlpacaMarketDataSettings(
            baseURL: server.baseURL, feed: .iex, caFile: certificates.caFile, requestTimeout: .seconds(5), maxAttempts: maxAttempts,
            pageLimit: pageLimit)
        let credentials = AlpacaCredentials(
            keyID: Secret(name: "alpaca_key_id", value: key), secretKey: Secret(name: "alpaca_secret_key", value: clientSecret))
        let client = try AlpacaMarketDataClient(settings: settings, credentials: credentials, clock: clock) { clock.sleep($0) }
        return Harness(directory: directory, server: server, client: client, clock: clock)
    }

    static let march = LocalDate("2025-03-03")!
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func everyPageIsFollowedByItsTokenWithTheOtherParametersUnchanged() async throws {
        let h = try await Self.harness(pageLimit: 5)
        defer { Task { await h.stop() } }
        h.server.generateBars("SPY", from: Self.march, sessions: 12)
        h.server.generateBars("QQQ", from: Self.march, sessions: 12, start: Price("400.00")!)
        let to = Self.march.adding(days: 30)
        let bars = try await h.client.dailyBars(["SPY", "QQQ"], from: Self.march, to: to, adjustment: .raw)
        #expect(bars["SPY"]?.count == 12 && bars["QQQ"]?.count == 12)
        let spy = bars["SPY"] ?? []
        #expect(zip(spy, spy.dropFirst()).allSatisfy { $0.start < $1.start })
        #expect(spy.first?.start == NewYorkTime.timestamp(Self.march, TradingCalendar.regularOpen))
        #expect(spy.first?.open == Price("100.05") && spy.first?.volume == 1_000_000)
        let queries = h.server.barsQueries
        #expect(queries.count == 5, "24 bars, 5 a page: \(queries)")
        #expect(queries.first?.contains("page_token") == false)
        #expect(queries.dropFirst().allSatisfy { $0.contains("page_token=") })
        let common = queries.map { q in q.split(separator: "&").filter { !$0.hasPrefix("page_token=") } }
        #expect(Set(common.map { $0.joined(separator: "&") }).count == 1)
        #expect(queries[0].contains("timeframe=1Day") && queries[0].contains("feed=iex") && queries[0].contains("adjustment=raw"))
        #expect(queries[0].contains("symbols=SPY%2CQQQ") && queries[0].contains("start=2025-03-03"))
    }

    @Test func a429IsWaitedOutAsItsRetryAfterSaysAndThePageAskedAgain() async throws {
        let h = try await Self.harness(pageLimit: 10_000)
        defer { Task { await h.stop() } }
        h.server.generateBars("SPY", from: Self.march, sessions: 3)
        h.server.scriptBars([.rateLimited])
        let bars = try await h.client.dailyBars(["SPY"], from: Self.march, to: Self.march.adding(days: 10), adjustment: .raw)
        #expect(bars["SPY"]?.count == 3)
        #expect(h.server.barsQueries.count == 2)
        #expect(h.clock.sleeps == [.seconds(3)], "slept \(h.clock.sleeps)")
    }

    @Test func rateLimitsAndServerErrorsThatPersistGiveUpWithoutTheSecret() async throws {
        let h = try await Self.harness(maxAttempts: 3)
        defer { Task { await h.stop() } }
        h.server.generateBars("SPY", from: Self.march, sessions: 3)
        h.server.scriptBars([.serverError(status: 503), .rateLimited, .serverError(status: 502)])
        await #expect(throws: AlpacaMarketDataError.self) {
            try await h.client.dailyBars(["SPY"], from: Self.march, to: Self.march.adding(days: 10), adjustment: .raw)
        }
        #expect(h.server.barsQueries.count == 3)
        let wrong = try await Self.harness(secret: "wrong-secret-not-printed")
        defer { Task { await wrong.stop() } }
        do {
            _ = try await wrong.client.dailyBars(["SPY"], from: Self.march, to: Self.march, adjustment: .raw)
            Issue.record("a wrong secret was accepted")
        } catch {
            #expect(error == .refused(status: 401, message: "40110000 request is not authorized"))
            #expect(!"\(error)".contains("wrong-secret") && !"\(error)".contains(Self.key))
        }
    }

    @Test func aBadBarRefusesTheIngestAndNothingIsStored() async throws {
        let h = try await Self.harness(pageLimit: 4)
        defer { Task { await h.stop() } }
        h.server.generateBars("SPY", from: Self.march, sessions: 10)
        h.server.generateBars("QQQ", from: Self.march, sessions: 10)
        h.server.corruptBar(symbol: "QQQ", date: LocalDate("2025-03-12")!)
        let symbols: [Symbol] = ["SPY", "QQQ"]
        let bars = try await h.client.dailyBars(symbols, from: Self.march, to: Self.march.adding(days: 20), adjustment: .raw)
        let store = try BarStore(path: h.directory("bars.sqlite"), logger: Self.logger)
        defer { try? store.close() }
        let outcome = Result { () throws(IngestError) in
            try MarketDataIngest.ingestFetched(symbols.map { ("alpaca:\($0)", $0, bars[$0] ?? []) }, into: store, logger: Self.logger)
        }
        guard case .failure(.refused(let report)) = outcome else {
            Issue.record("a bar with its high under its low was not refused: \(outcome)")
            return
        }
        #expect(report.issues.contains { $0.severity == .error && $0.file == "alpaca:QQQ" })
        let none = try store.barCount()
        #expect(none == 0)
        // The good data alone is stored whole.
        let stored = try MarketDataIngest.ingestFetched([("alpaca:SPY", "SPY", bars["SPY"] ?? [])], into: store, logger: Self.logger)
        let count = try store.barCount()
        #expect(stored.storedBars == 10 && count == 10)
    }

    @Test func aPageThatCannotBeReadFailsTheWholeQuery() async throws {
        let h = try await Self.harness(pageLimit: 4, maxAttempts: 1)
        defer { Task { await h.stop() } }
        h.server.generateBars("SPY", from: Self.march, sessions: 10)
        h.server.scriptBars([.normal, .garbage])
        do {
            _ = try await h.client.dailyBars(["SPY"], from: Self.march, to: Self.march.adding(days: 20), adjustment: .raw)
            Issue.record("an unreadable second page was accepted")
        } catch {
            guard case .malformed = error else {
                Issue.record("expected malformed, got \(error)")
                return
            }
        }
        #expect(h.server.barsQueries.count == 2)
    }

    @Test func splitAdjustedBarsAreDividedBeforeTheSplitAndRawOnesAreNot() async throws {
        let h = try await Self.harness(pageLimit: 10_000)
        defer { Task { await h.stop() } }
        h.server.generateBars("NVX", from: Self.march, sessions: 10, start: Price("200.00")!)
        let split = LocalDate("2025-03-10")!
        h.server.addSplit("NVX", date: split, ratio: 2)
        let to = Self.march.adding(days: 20)
        let raw = try await h.client.dailyBars(["NVX"], from: Self.march, to: to, adjustment: .raw)["NVX"] ?? []
        let adjusted = try await h.client.dailyBars(["NVX"], from: Self.march, to: to, adjustment: .split)["NVX"] ?? []
        #expect(raw.count == 10 && adjusted.count == 10)
        #expect(h.server.barsQueries.last?.contains("adjustment=split") == true)
        let splitStart = NewYorkTime.timestamp(split, TradingCalendar.regularOpen)
        for (r, a) in zip(raw, adjusted) {
            if r.start < splitStart {
                #expect(a.close.units * 2 == r.close.units && a.volume == r.volume * 2, "\(r) vs \(a)")
            } else {
                #expect(a == r)
            }
        }
        #expect(raw.contains { $0.start < splitStart })
    }

    @Test func theCoreRefusesWhatWasNotAskedForAndBarsThatAreNotDaily() throws {
        func page(_ text: String) throws -> AlpacaBarPage {
            try AlpacaMarketDataRequests.decodePage(try AlpacaJSONParser.parse(text), requested: ["SPY"])
        }
        let ok = try page(
            #"{"bars":{"SPY":[{"t":"2022-02-28T05:00:00Z","o":163.02,"h":165.42,"l":162.43,"c":165.12,"v":90552883,"n":743379,"vw":164.274348}]},"next_page_token":"QUFQTHxEfDIwMjI="}"#
        )
        #expect(ok.nextPageToken == "QUFQTHxEfDIwMjI=")
        #expect(ok.bars["SPY"]?.first?.close == Price("165.12") && ok.bars["SPY"]?.first?.volume == 90_552_883)
        #expect(ok.bars["SPY"]?.first?.start == NewYorkTime.timestamp(LocalDate("2022-02-28")!, TradingCalendar.regularOpen))
        #expect(try page(#"{"bars":{},"next_page_token":null}"#) == AlpacaBarPage(bars: [:], nextPageToken: nil))
        let bad = [
            #"{"bars":{"QQQ":[]},"next_page_token":null}"#,  // not asked for
            #"{"bars":{"SPY":[{"t":"2022-02-28T14:30:00Z","o":1,"h":1,"l":1,"c":1,"v":1}]}}"#,  // not midnight New York
            #"{"bars":{"SPY":[{"t":"2022-02-28T05:00:00Z","o":"1","h":1,"l":1,"c":1,"v":1}]}}"#,  // a string price
            #"{"bars":{"SPY":[{"t":"2022-02-28T05:00:00Z","o":1,"h":1,"l":1,"c":1,"v":1.5}]}}"#,  // part of a share
            #"{"bars":{"SPY":[{"t":"2022-02-28T05:00:00Z","o":1e2,"h":1,"l":1,"c":1,"v":1}]}}"#,  // an exponent
            #"{"bars":[],"next_page_token":null}"#,
            #"{"bars":{},"next_page_token":"has space"}"#,
        ]
        for text in bad {
            #expect(throws: AlpacaDecodeError.self, "\(text)") { try page(text) }
        }
        let q = AlpacaBarsQuery(
            symbols: ["SPY", "BRK.B"], from: LocalDate("2025-01-02")!, to: LocalDate("2025-01-31")!, adjustment: .split)
        #expect(
            try AlpacaMarketDataRequests.dailyBars(q, pageToken: "a+b/c=").path
                == "/v2/stocks/bars?symbols=SPY%2CBRK.B&timeframe=1Day&start=2025-01-02&end=2025-01-31&adjustment=split&feed=iex"
                + "&limit=10000&sort=asc&page_token=a%2Bb%2Fc%3D")
        #expect(throws: AlpacaRequestError.self) {
            try AlpacaMarketDataRequests.dailyBars(AlpacaBarsQuery(symbols: [], from: q.from, to: q.to), pageToken: nil)
        }
    }
}
