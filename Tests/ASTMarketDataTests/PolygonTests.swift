import ASTCalendar
import ASTCore
import ASTTestKit
import Foundation
import Logging
import Synchronization
import Testing

@testable import ASTMarketData

/// Records log lines (message and metadata) so a test can look for a secret in them.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "polygon-test") { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
            let text = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            sink.lines.withLock { $0.append("\(event.level) \(event.message) \(text)\(event.error.map { " \($0)" } ?? "")") }
        }
    }
}

/// The delays the client asked to wait, without waiting.
final class Sleeps: Sendable {
    let delays = Mutex<[Duration]>([])
    var recorded: [Duration] { delays.withLock { $0 } }
    var sleep: @Sendable (Duration) async throws -> Void { { [self] d in delays.withLock { $0.append(d) } } }
}

@Suite(.serialized) struct PolygonTests {
    static let key = "pk_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
    static let days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]

    /// Aggregates as Polygon sends them: `t` at midnight New York, prices as JSON numbers.
    static func aggregates(_ closes: [String]) -> [FakePolygonServer.Aggregate] {
        zip(days, closes).map { d, c in
            let t = NewYorkTime.timestamp(date(d), LocalTime(hour: 0, minute: 0)).nanoseconds / 1_000_000
            return FakePolygonServer.Aggregate(t: t, o: c, h: "\(c)5", l: "1.0", c: c, v: "1.5e3")
        }
    }

    static let data = [
        "ABC": aggregates(["10.1", "10.2", "10.3", "10.4", "10.5"]), "XYZ": aggregates(["20.1", "20.2", "20.3", "20.4", "20.5"]),
    ]

    final class Fixture: Sendable {
        let dir: TemporaryDirectory
        let server: FakePolygonServer
        let client: PolygonClient
        let sleeps = Sleeps()
        let log = CapturedLog()

        init(
            pageSize: Int = 50_000, tls: Bool = false, key: String = PolygonTests.key,
            data: [String: [FakePolygonServer.Aggregate]] = PolygonTests.data
        ) async throws {
            dir = try TemporaryDirectory(prefix: "ast-polygon")
            var ca: String?
            if tls {
                let certificates = try TestCertificates(directory: dir("tls"))
                server = try await FakePolygonServer(
                    apiKey: PolygonTests.key, data: data, pageSize: pageSize,
                    certificate: certificates.certificateFile, key: certificates.keyFile)
                ca = certificates.caFile
            } else {
                server = try await FakePolygonServer(apiKey: PolygonTests.key, data: data, pageSize: pageSize)
            }
            client = try PolygonClient(
                apiKey: PolygonAPIKey(key),
                settings: PolygonSettings(
                    baseURL: server.baseURL, caFile: ca, requestTimeout: .seconds(5), maxAttempts: 3, initialBackoff: .seconds(1),
                    maxBackoff: .seconds(30)),
                logger: log.logger, sleep: sleeps.sleep)
        }

        /// Runs `body` with this fixture and closes it afterwards, also when `body` throws.
        func run(_ body: (Fixture) async throws -> Void) async throws {
            do { try await body(self) } catch {
                await close()
                throw error
            }
            await close()
        }

        func close() async {
            await client.shutdown()
            await server.stop()
            dir.remove()
        }

        /// Nothing the client said holds the key.
        func expectNoKeyLeaked(_ texts: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
            let logged = log.lines.withLock { $0 }
            #expect(!logged.isEmpty, "the client logged nothing to check", sourceLocation: sourceLocation)
            for line in logged + texts {
                #expect(!line.contains(PolygonTests.key), "key leaked: \(line)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func paginationFollowsNextURLWithTheKeyAppendedOverHTTPS() async throws {
        try await Fixture(pageSize: 2, tls: true).run { f in
            let bars = try await f.client.dailyBars("ABC", from: date("2024-01-01"), to: date("2024-01-31"))
            #expect(bars.map(\.bar.date) == Self.days.map(date))
            #expect(bars[0].bar == bar("ABC", "2024-01-02", "10.1", "10.15", "1.0", "10.1", 1500))
            let requests = f.server.requests
            #expect(requests.count == 3)
            #expect(
                requests[0].hasPrefix("/v2/aggs/ticker/ABC/range/1/day/2024-01-01/2024-01-31?adjusted=false&sort=asc&limit=50000&apiKey="))
            #expect(requests[1].contains("cursor=2") && requests[2].contains("cursor=4"))
            #expect(requests.allSatisfy { $0.hasSuffix("apiKey=\(Self.key)") })
            f.expectNoKeyLeaked()
        }
    }

    @Test func rateLimitIsRetriedAfterRetryAfterThenWithBackOff() async throws {
        try await Fixture().run { f in
            f.server.script([.rateLimited(retryAfter: 7), .rateLimited(retryAfter: nil)])
            let bars = try await f.client.dailyBars("XYZ", from: date("2024-01-01"), to: date("2024-01-31"))
            #expect(bars.count == 5)
            #expect(f.sleeps.recorded == [.seconds(7), .seconds(2)])
            #expect(f.server.requests.count == 3)
            f.expectNoKeyLeaked()
        }
    }

    @Test func serverErrorsAreRetriedThenGivenUpClearly() async throws {
        try await Fixture().run { f in
            f.server.setFallback(.serverError(status: 500))
            let error = await #expect(throws: PolygonError.self) {
                try await f.client.dailyBars("XYZ", from: date("2024-01-01"), to: date("2024-01-31"))
            }
            #expect(error == .gaveUp(attempts: 3, last: "HTTP 500: Internal Server Error"))
            #expect(f.sleeps.recorded == [.seconds(1), .seconds(2)])
            #expect(f.server.requests.count == 3)
            f.expectNoKeyLeaked([error?.description ?? ""])
        }
    }

    @Test func theRegimeSectorAndSnapshotEndpointsAnswerAsDocumentedAndFailClearly() async throws {
        let day = NewYorkTime.timestamp(date("2024-01-03"), LocalTime(hour: 0, minute: 0)).nanoseconds / 1_000_000
        var data = PolygonTests.data
        data["I:VIX"] = [FakePolygonServer.Aggregate(t: day, o: "13.1", h: "14", l: "12.9", c: "13.5", v: "0")]
        try await Fixture(data: data).run { f in
            // Indices aggregates: no volume, stored under the symbol the scan reads.
            let vix = try await f.client.indexDailyBars("I:VIX", as: "VOLX", from: date("2024-01-01"), to: date("2024-01-31"))
            #expect(vix.map(\.bar.symbol) == ["VOLX"] && vix.first?.bar.close == price("13.5") && vix.first?.bar.volume == 0)
            // Ticker overview: the SIC code; an ETF has none; an unknown ticker is Polygon's 404.
            f.server.setReference(tickers: [
                .init(ticker: "ABC", name: "ABC Corp", sicCode: "3674", sicDescription: "SEMICONDUCTORS"),
                .init(ticker: "SPY", name: "SPDR S&P 500 ETF Trust", primaryExchange: "ARCX", type: "ETF"),
            ])
            #expect(try await f.client.sicCode("ABC") == 3674)
            #expect(try await f.client.sicCode("SPY") == nil)
            let unknown = await #expect(throws: PolygonError.self) { try await f.client.sicCode("NOPE") }
            #expect(unknown == .refused(status: 404, message: "Ticker not found."), "\(String(describing: unknown))")
            // A well-formed overview with a value that is not a SIC code is refused, not stored.
            f.server.setFallback(
                .body(status: 200, json: #"{"status":"OK","results":{"ticker":"ABC","sic_code":"36X4"}}"#),
                forPathPrefix: "/v3/reference/tickers/ABC")
            await #expect(throws: PolygonError.self) { try await f.client.sicCode("ABC") }
            f.server.setFallback(nil, forPathPrefix: "/v3/reference/tickers/ABC")
            #expect(try await f.client.sicCode("ABC") == 3674)
            // Snapshot: the last trade, else the day's close at `updated`.
            let now = NewYorkTime.timestamp(date("2024-01-04"), LocalTime(hour: 10, minute: 30))
            let t = now.nanoseconds - 60_000_000_000
            f.server.setSnapshot([
                .init(ticker: "ABC", lastTrade: (p: "10.61", t: t), dayClose: "10.6", updated: t),
                .init(ticker: "XYZ", lastTrade: nil, dayClose: "20.7", updated: t),
            ])
            let marks = try await f.client.snapshotMarks(now: now).marks
            #expect(marks["ABC"]?.price == price("10.61") && marks["XYZ"]?.price == price("20.7"))
            // A failing indices endpoint fails alone (the stocks' paths still answer).
            f.server.setFallback(.errorStatus(http: 403, message: "NOT_AUTHORIZED"), forPathPrefix: "/v2/aggs/ticker/I:")
            await #expect(throws: PolygonError.self) {
                try await f.client.indexDailyBars("I:VIX", as: "VOLX", from: date("2024-01-01"), to: date("2024-01-31"))
            }
            #expect(try await f.client.dailyBars("ABC", from: date("2024-01-01"), to: date("2024-01-31")).count == 5)
            f.expectNoKeyLeaked([unknown?.description ?? ""])
        }
    }

    @Test func malformedJSONIsRefusedNotGuessedAt() async throws {
        try await Fixture().run { f in
            f.server.script([.malformedJSON])
            let error = await #expect(throws: PolygonError.self) {
                try await f.client.dailyBars("XYZ", from: date("2024-01-01"), to: date("2024-01-31"))
            }
            guard case .malformed(let why)? = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(why.contains("not JSON"))
            #expect(f.server.requests.count == 1)
        }
    }

    @Test func anErrorStatusIsRefusedWithPolygonsMessage() async throws {
        try await Fixture().run { f in
            f.server.script([.errorStatus(http: 403, message: "You are not entitled to this data.")])
            let error = await #expect(throws: PolygonError.self) {
                try await f.client.dailyBars("XYZ", from: date("2024-01-01"), to: date("2024-01-31"))
            }
            #expect(error == .refused(status: 403, message: "You are not entitled to this data."))
        }
    }

    @Test func aWrongKeyIsRefusedAndTheKeyNeverAppearsInErrorsOrLogs() async throws {
        let wrong = "pk_wrong_\(UUID().uuidString)"
        try await Fixture(key: wrong).run { f in
            let error = await #expect(throws: PolygonError.self) {
                try await f.client.dailyBars("XYZ", from: date("2024-01-01"), to: date("2024-01-31"))
            }
            #expect(error == .refused(status: 401, message: "Unknown API Key"))
            for line in f.log.lines.withLock({ $0 }) + [error?.description ?? ""] { #expect(!line.contains(wrong)) }
            // Redaction covers the key's text and any apiKey= query value.
            let key = PolygonAPIKey("SECRET123")
            #expect(
                PolygonRedaction.redact("GET https://h/v2/aggs?x=1&apiKey=SECRET123&y=2 failed; key SECRET123", key: key)
                    == "GET https://h/v2/aggs?x=1&apiKey=<redacted>&y=2 failed; key <redacted>")
            #expect("\(key)" == "<redacted>")
        }
    }

    @Test func aFailingEndpointLeavesTheStoreUnchangedAndTheStaleGuardDoesNothing() async throws {
        try await Fixture().run { f in
            let store = try BarStore(path: f.dir("bars.sqlite"), logger: quiet)
            defer { try? store.close() }
            // The last good data: up to 2023-12-29.
            let good = [bar("ABC", "2023-12-28", "9", "10", "8.5", "9.5"), bar("ABC", "2023-12-29", "9.5", "10", "9", "9.9")]
            try store.write(StoreBatch(bars: good))
            // ABC answers, XYZ fails on every attempt: nothing of ABC's answer is stored either.
            f.server.script([.normal])
            f.server.setFallback(.serverError(status: 503))
            let error = await #expect(throws: IngestError.self) {
                try await MarketDataIngest.ingestPolygon(
                    client: f.client, symbols: ["ABC", "XYZ"], from: date("2024-01-01"), to: date("2024-01-31"),
                    into: store, logger: quiet)
            }
            guard case .source(.gaveUp(3, _))? = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(try store.allBars() == good)
            // On 2024-01-09 the last good bar is five sessions old: the pipeline must not act on it.
            let freshness = BarValidator.freshness(
                lastBar: try store.lastBar("ABC"), symbol: "ABC", asOf: date("2024-01-09"), maxSessionsBehind: 1)
            #expect(!freshness.isUsable)
            f.expectNoKeyLeaked([error.map { "\($0)" } ?? ""])
        }
    }

    @Test func polygonBarsAreValidatedAndStoredInOneIngest() async throws {
        var data = Self.data
        data["BAD"] = Self.aggregates(["5", "5", "5"]).enumerated().map { i, a in
            var a = a
            if i == 1 { a.h = "0.5" }  // high below low
            return a
        }
        try await Fixture(data: data).run { f in
            let store = try BarStore(path: f.dir("bars.sqlite"), logger: quiet)
            defer { try? store.close() }
            let report = try await MarketDataIngest.ingestPolygon(
                client: f.client, symbols: ["ABC", "XYZ"], from: date("2024-01-01"),
                to: date("2024-01-31"), into: store, logger: quiet)
            #expect(report.storedBars == 10)
            #expect(try store.symbols() == ["ABC", "XYZ"])
            let error = await #expect(throws: IngestError.self) {
                try await MarketDataIngest.ingestPolygon(
                    client: f.client, symbols: ["BAD"], from: date("2024-01-01"), to: date("2024-01-31"),
                    into: store, logger: quiet)
            }
            guard case .refused(let r)? = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(r.issues.map(\.description) == ["error polygon:BAD BAD 2024-01-03: high 0.50 is below low 1.00"])
            #expect(try store.barCount() == 10)
        }
    }

    @Test func resultsThatAreNotAListRefuseTheAnswerInsteadOfReadingAsNoBars() {
        let body = Array(#"{"ticker":"ABC","status":"OK","resultsCount":1,"results":{"t":1704171600000}}"#.utf8)
        guard case .failure(.malformed(let why)) = PolygonAnswer.interpret(httpStatus: 200, retryAfter: nil, body: body, symbol: "ABC")
        else {
            Issue.record("an object for results was accepted")
            return
        }
        #expect(why.contains("not a list"))
    }

    @Test func polygonAnswersAreReadExactly() {
        let body = Array(
            #"{"ticker":"ABC","status":"DELAYED","resultsCount":1,"results":[{"v":7.0539e+07,"vw":1.5,"o":187.149994,"c":185.64,"h":188.44,"l":183.89,"t":1704171600000,"n":1}]}"#
                .utf8)
        guard case .page(let p) = PolygonAnswer.interpret(httpStatus: 200, retryAfter: nil, body: body, symbol: "ABC") else {
            Issue.record("not a page")
            return
        }
        #expect(p.bars.map(\.bar) == [bar("ABC", "2024-01-02", "187.15", "188.44", "183.89", "185.64", 70_539_000)])
        #expect(p.nextURL == nil)
        let empty = Array(#"{"ticker":"ABC","queryCount":0,"resultsCount":0,"adjusted":false,"status":"OK","request_id":"x"}"#.utf8)
        #expect(
            PolygonAnswer.interpret(httpStatus: 200, retryAfter: nil, body: empty, symbol: "ABC")
                == .page(PolygonPage(bars: [], nextURL: nil)))
    }

    /// `t` and `v` are outside values: a timestamp whose nanoseconds do not fit Int64, or a volume
    /// at the top of the fixed-point range, is a malformed answer or rounds exactly; it never traps
    /// (`ms * 1_000_000` and `v + 0.5` used to overflow).
    @Test func polygonNumbersAtTheEdgesAreRefusedOrRoundedWithoutTrapping() {
        let hugeT = Array(
            #"{"status":"OK","results":[{"v":100,"o":1,"c":1,"h":1,"l":1,"t":9223372036854775807}]}"#.utf8)
        guard case .failure(.malformed(let why)) = PolygonAnswer.interpret(httpStatus: 200, retryAfter: nil, body: hugeT, symbol: "ABC")
        else {
            Issue.record("a t that does not fit in nanoseconds was not refused")
            return
        }
        #expect(why.contains("results[0].t"))
        let grouped = Array(
            #"{"status":"OK","results":[{"T":"ABC","v":100,"o":1,"c":1,"h":1,"l":1,"t":-9223372036854775807}]}"#.utf8)
        guard case .failure = PolygonMarketJSON.groupedDaily(grouped, date: LocalDate("2024-01-02")!) else {
            Issue.record("a grouped-daily t that does not fit was not refused")
            return
        }
        #expect(PolygonNumbers.wholeShares(units: Int64.max) == Int64.max / 10_000 + 1)
        #expect(PolygonNumbers.wholeShares(units: Int64.min) == Int64.min / 10_000 - 1)
        #expect(PolygonNumbers.wholeShares(units: 14_999) == 1)
        #expect(PolygonNumbers.wholeShares(units: 15_000) == 2)
        #expect(PolygonNumbers.wholeShares(units: -15_000) == -2)
        #expect(PolygonNumbers.wholeShares(units: -14_999) == -1)
    }
}
