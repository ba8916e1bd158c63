import ASTCalendar
import ASTCore
import ASTJournal
import ASTMarketData
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// M10's production day, under a real systemd booted by scripts/sd-harness: the build installed
/// by scripts/install with the shipped units and /etc/ast (ast.yaml + ast.production.yaml), the
/// Polygon key in /etc/credstore (and, as the harness's systemd cannot set credentials up, in
/// secrets_file), the wall clock moved by `clock.offset_seconds` from one
/// schedule point to the next (each hop restarts ast.service), and ``FakePolygonServer`` on the
/// host's loopback, reached from the sandbox's own network namespace through scripts/sock-bridge.
///
/// The market is a full production data set generated from a seed (``ProductionData``): the
/// ``UniverseGenerator``'s standard universe (seed 3: about 50 stocks that pass the universe
/// filter, the market index as the ETF SPY, the volatility index as the indices ticker I:VIX),
/// 260 sessions of grouped-daily bars before the traded day, ticker reference data with SIC codes
/// (the sectors), splits and dividends. It is served as Polygon documents these endpoints (the
/// grouped-daily aggregates, "the daily open, high, low, and close for the entire stocks market",
/// each result with its ticker in `T`; the indices aggregates without volume; `/v3/reference/
/// tickers[/{ticker}]` with `sic_code`; `/v3/reference/splits` and `/dividends` paged by
/// `next_url`): see ``FakePolygonServer``, written from that documentation.
///
/// What is not production: `environment` is `test` (production refuses a clock offset, rightly;
/// the test environment's file is a copy of ast.production.yaml, so every production setting is in
/// effect), and the symbol concentration limit is tightened to 1 % before D+2 so that the
/// positions of D+1 violate it (SAFE_REDUCING, the 14:30 reduction).
@Suite(.serialized) struct SystemdProductionDayTests {
    static let key = "pk_day_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
    /// D (16:10 fetch), D+1 (the traded day: scan, orders, cleanup, fills from its bars),
    /// D+2 (a violated limit: 14:30 safe reducing, the reduction filled, 16:40 report),
    /// D+3 (Polygon fails), D+4 (its scan does nothing).
    static let d = LocalDate("2025-03-03")!
    static let d1 = LocalDate(ProductionData.tradedDay)!
    static let d2 = LocalDate("2025-03-05")!
    static let d3 = LocalDate("2025-03-06")!
    static let d4 = LocalDate("2025-03-07")!
    /// Sessions backfilled at the first start (the regime's SMA200 and the universe's 250).
    static let history = 260
    /// Seconds before a schedule point under test (16:10 fetch, 09:00 scan) that a hop restarts
    /// ast.service: every worker was ready 1-2 s after `systemctl start` in CI runs, so the rest
    /// is margin; each second of it is a second spent waiting for the clock, at six such hops
    /// (it was 20 s: a minute of the CI's time). A later start does the same work by catching up
    /// (the start's backfill, ast-strategy's first-start catch-up), only through another path.
    static let lead: Int64 = 10

    @Test(
        .enabled(
            if: SystemdSandbox.isSupported && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), SystemdSandbox.requirement),
        .timeLimit(.minutes(12)))
    func aProductionDayUnderSystemdTradesFromPolygonsBarsReducesAtTwoThirtyReportsAndAFailingPolygonStoresNothing() async throws {
        let started = ContinuousClock.now
        let served = ProductionData.served(through: Self.d2, sessions: Self.history + 3)
        let polygon = try await FakePolygonServer(apiKey: Self.key, data: served.data, pageSize: 1_000)
        polygon.setReference(tickers: served.tickers, splits: served.splits, dividends: served.dividends)
        let day = try await ProductionDay.start(polygon: polygon, minBarsPerDay: served.stocks / 2)
        defer {
            day.stop()
            Task { await polygon.stop() }
        }
        do {
            try await Self.tradedDay(day, polygon, stocks: served.stocks)
            try await Self.reducingDay(day)
            try await Self.failingDay(day, polygon)
            try await day.verifyJournals()
        } catch {
            let seen = await day.seen()
            Issue.record("\(error)\n\(seen)")
            throw error
        }
        try await day.sandbox.check(["systemctl", "stop", "ast.target"])
        try await day.sandbox.shutdownAndCheckNothingIsLeft()
        print("SystemdProductionDayTests: the production day took \(ContinuousClock.now - started)")
    }

    /// 16:10 fetch of D; D+1: the 09:00 scan, the orders at the paper broker, the 15:55 cleanup,
    /// the 16:10 fetch whose bars fill the entries they touched (before the cleanup's cancels,
    /// held for them, take effect on the others).
    static func tradedDay(_ day: ProductionDay, _ polygon: FakePolygonServer, stocks: Int) async throws {
        // D 16:09:40: the empty store is backfilled up to D-1 at start, D itself at 16:10.
        try await day.hop(to: d, 16, 10, lead: lead)
        try await day.waitFor("D's bars fetched at 16:10 and stored", timeout: .seconds(240)) {
            try day.bodies("marketdata@main", "marketdata.live_stored").contains { $0.contains("\"date\":\"\(d)\"") }
        }
        #expect(try day.storedBars(on: d) >= stocks, "every stock, SPY and VOLX of D")
        // A fresh install is a first start, not missing state: under the shipped unit
        // (ProcSubset=pid hides the boot id) every journal of the same run used to count as one
        // of an earlier run, and the risk gate, broker and reconciler came up HALTED/quarantined.
        #expect(try day.bodies("risk@main", "journal.state_missing").isEmpty, "the risk gate's first start is not missing state")
        #expect(try day.bodies("broker@paper", "journal.state_missing").isEmpty)
        #expect(
            polygon.requests.contains { $0.hasPrefix("/v2/aggs/grouped/locale/us/market/stocks/\(d)?") }, "\(polygon.requests.suffix(5))")
        #expect(polygon.requests.contains { $0.hasPrefix("/v2/aggs/ticker/I:VIX/range/1/day/") })
        try await day.waitFor("the sectors looked up", timeout: .seconds(120)) {
            try day.bodies("marketdata@main", "marketdata.live_sectors").contains { $0.contains("stored") }
        }
        for process in ["risk@main", "reconciler@main"] {
            #expect(try !day.received(process, "mark").isEmpty, "\(process) got the closes as marks")
        }

        // D+1 09:00: the scan on fresh data proposes; the approved entries reach the paper broker.
        try await day.hop(to: d1, 9, 0, lead: lead)
        let scan = try await day.schedule("full_scan", on: d1)
        print("09:00 scan of \(d1): \(scan)")
        #expect(scan.contains("\"fired\":true") && !scan.contains("DEGRADED"), "the scan ran on fresh data: \(scan)")
        #expect(try day.bodies("strategy@main", "strategy.scan").count == 1, "one scan journaled, with what it saw")
        try await day.waitFor("the approved entries at the paper broker", timeout: .seconds(90)) {
            try !day.received("broker@paper", "order.submit").isEmpty
        }
        let entries = try day.received("broker@paper", "order.submit").count
        print("\(entries) bracket(s) at the paper broker")

        // D+1 15:55: 14:30 reconciles (ACTIVE: nothing to reduce), the cleanup asks to cancel every
        // entry still unfilled; the broker has not seen D+1's bars: the cancels wait for them.
        try await day.hop(to: d1, 15, 55, lead: -2)
        let reduce = try await day.schedule("reconcile_and_reduce", on: d1)
        #expect(reduce.contains("\"fired\":true") && reduce.contains("reconciliation:"), "\(reduce)")
        let cleanup = try await day.schedule("pre_close_cleanup", on: d1)
        #expect(cleanup.contains("\"fired\":true") && cleanup.contains("reconciliation:"), "\(cleanup)")
        try await day.waitFor("the cleanup's cancels at the broker", timeout: .seconds(60)) {
            try day.received("broker@paper", "order.cancel").count >= entries
        }
        #expect(try day.reports().filter { $0.isFill }.isEmpty, "no fill before the day's bars")

        // D+1 16:10: D+1's bars reach the broker: the entries they touched fill, then the held
        // cancels cancel the others (and their children), none of the filled ones.
        let open1 = "\(NewYorkTime.timestamp(d1, TradingCalendar.regularOpen).nanoseconds)"
        try await day.hop(to: d1, 16, 10, lead: lead)
        try await day.waitFor("D+1's bars stored, at the broker, and its close", timeout: .seconds(120)) {
            try day.bodies("marketdata@main", "marketdata.live_stored").contains { $0.contains("\"date\":\"\(d1)\"") }
                && day.received("broker@paper", "bar").contains { $0.contains(open1) }
                && !day.received("broker@paper", "session.close").isEmpty
        }
        var reports: [SentReport] = []
        var (filled, cancelled) = (Set<String>(), Set<String>())
        try? await day.waitFor("every entry of D+1 filled or cancelled at the reconciler", timeout: .seconds(60)) {
            reports = try day.reports()
            filled = Set(reports.filter { $0.isFill && $0.leg == "E" }.map(\.order))
            cancelled = Set(reports.filter { $0.kind == "cancelled" && $0.leg == "E" }.map(\.order))
            return filled.union(cancelled).count >= entries
        }
        print("D+1: \(filled.count) entr\(filled.count == 1 ? "y" : "ies") filled by its bars, \(cancelled.count) cancelled after them")
        #expect(!filled.isEmpty, "an entry filled from D+1's bar: \(reports.map(\.line).suffix(20))")
        #expect(filled.isDisjoint(with: cancelled), "the cleanup cancels only unfilled entries")
        #expect(filled.count + cancelled.count == entries, "every entry filled or cancelled: \(reports.map(\.line).suffix(20))")
        // The held cancels are journaled inputs like any other: every journal replays to the same
        // outputs (before D+2's configuration change, which a replay would rightly call different).
        let replay = try await day.sandbox.astctl(["replay", "--verify"])
        #expect(replay.status == 0 && replay.stdout.contains("replay: IDENTICAL"), "\(replay.stdout.suffix(2_000))\(replay.stderr)")
    }

    /// D+2 with the symbol concentration limit at 1 %: the gate goes SAFE_REDUCING on D+1's
    /// positions, 14:30 proposes reduce-only market orders, D+2's bars fill them at the close,
    /// and 16:40 reconciles and reports.
    static func reducingDay(_ day: ProductionDay) async throws {
        try await day.setLocal(extra: "risk:\n  limits:\n    max_symbol_concentration_pct: 1\n")
        try await day.hop(to: d2, 9, 0, lead: lead)
        try await eventuallyAsync(timeout: .seconds(120), every: .seconds(1), "the gate SAFE_REDUCING on the tight limit") {
            try await day.sandbox.astctl(["status"]).stdout.contains("Safe Mode: SAFE_REDUCING")
        }
        _ = try await day.schedule("full_scan", on: d2)
        try await day.hop(to: d2, 15, 55, lead: -2)
        let reduce = try await day.schedule("reconcile_and_reduce", on: d2)
        print("14:30 of \(d2): \(reduce)")
        #expect(reduce.contains("\"fired\":true"), "\(reduce)")
        try await day.waitFor("the reduce-only orders at the broker", timeout: .seconds(90)) {
            try day.received("broker@paper", "order.submit").contains { $0.contains(".safe-reduce.") }
        }
        _ = try await day.schedule("pre_close_cleanup", on: d2)
        #expect(try day.reports().filter { $0.isFill && $0.order.contains(".safe-reduce.") }.isEmpty, "not before D+2's bars")

        try await day.hop(to: d2, 16, 10, lead: lead)
        try await day.waitFor("the reductions filled by D+2's bars", timeout: .seconds(120)) {
            try day.reports().contains { $0.isFill && $0.order.contains(".safe-reduce.") }
        }
        let reductions = try day.reports().filter { $0.order.contains(".safe-reduce.") && $0.leg == "E" }
        #expect(!reductions.contains { $0.kind == "expired" || $0.kind == "cancelled" }, "\(reductions.map(\.line))")

        // 16:40: reconciliation (broker and book agree) and the daily report.
        try await day.hop(to: d2, 16, 40, lead: -2)
        let after = try await day.schedule("after_market", on: d2)
        #expect(after.contains("reconciliation:") && after.contains("daily report"), "\(after)")
        #expect(after.contains(": clean;"), "the broker and the book agree after the reduction: \(after)")
        try await day.sandbox.check(["test", "-s", "/var/lib/ast/reports/daily-\(d2)/report.md"])
        try await day.waitFor("the daily report's alert at the notifier", timeout: .seconds(30)) {
            try day.received("notifier@main", "alert").contains { $0.contains("daily-report:\(d2)") }
        }
        print("16:40 of \(d2): \(after)")
        let summaries = try day.bodies("reconciler@main", "reconciliation.summary")
        print("reconciliations: \(summaries.count), last: \(summaries.last?.prefix(400) ?? "-")")
        print("fills at the broker: \(try day.reports().filter(\.isFill).count)")
    }

    /// D+3 with Polygon answering 500: nothing stored, a P1; D+4's scan does nothing and says why.
    static func failingDay(_ day: ProductionDay, _ polygon: FakePolygonServer) async throws {
        polygon.setFallback(.serverError(status: 500))
        let ordersBefore = try day.received("broker@paper", "order.submit").count
        let intentsBefore = try day.received("risk@main", "intent.submit").count
        try await day.hop(to: d3, 16, 10, lead: lead)
        try await day.waitFor("D+3's fetch refused for HTTP 500", timeout: .seconds(120)) {
            try day.bodies("marketdata@main", "marketdata.live_refused").contains { $0.contains("HTTP 500") }
        }
        try await day.waitFor("the P1 for the day not stored", timeout: .seconds(30)) {
            try day.received("notifier@main", "alert").contains { $0.contains("marketdata:not-stored:\(d3)") && $0.contains("P1") }
        }
        #expect(try day.storedBars(on: d3) == 0, "nothing of D+3 stored")
        #expect(try !day.bodies("marketdata@main", "marketdata.live_stored").contains { $0.contains("\"date\":\"\(d3)\"") })

        let scansBefore = try day.bodies("strategy@main", "strategy.scan").count
        try await day.hop(to: d4, 9, 0, lead: -2)
        let scan = try await day.schedule("full_scan", on: d4)
        print("09:00 scan of \(d4) after a failed fetch: \(scan)")
        #expect(scan.contains("\"fired\":true") && scan.contains("DEGRADED"), "\(scan)")
        #expect(try day.bodies("strategy@main", "strategy.scan").count == scansBefore, "no scan ran on D+4")
        try await day.waitFor("the P1 for the degraded scan", timeout: .seconds(30)) {
            try day.received("notifier@main", "alert").contains { $0.contains("scan-degraded:\(d4)") }
        }
        #expect(try day.received("risk@main", "intent.submit").count == intentsBefore, "no intent on a day without data")
        #expect(try day.received("broker@paper", "order.submit").count == ordersBefore, "no entry on a day without data")
    }
}

/// One execution report as the broker journaled it on its way to the reconciler.
struct SentReport {
    var kind: String
    var order: String
    var line: String
    var isFill: Bool { kind == "fill" }
    /// The leg letter of the client order id (`<intent>.E`, `.S`, `.T`).
    var leg: String { String(order.split(separator: ".").last ?? "") }
}

/// An installed AST under the sandbox's systemd, with the fake Polygon bridged in, whose clock the
/// test moves by restarting ast.service with a new `clock.offset_seconds`.
final class ProductionDay: Sendable {
    let sandbox: SystemdSandbox
    let bridgeDir: String
    let hostBridge: ChildProcess
    let copies: TemporaryDirectory
    /// ast.local.yaml as the start wrote it (``setLocal(extra:)`` appends to it).
    let local: String

    private init(sandbox: SystemdSandbox, bridgeDir: String, hostBridge: ChildProcess, copies: TemporaryDirectory, local: String) {
        self.sandbox = sandbox
        self.bridgeDir = bridgeDir
        self.hostBridge = hostBridge
        self.copies = copies
        self.local = local
    }

    static func start(polygon: FakePolygonServer, minBarsPerDay: Int) async throws -> ProductionDay {
        // The Unix socket between the two bridges lies in the checkout, which the sandbox keeps.
        let bridgeDir = try TemporaryDirectory(prefix: "sdp", base: BuildProducts.packageRoot + "/.build").path
        let socket = bridgeDir + "/polygon.sock"
        let script = BuildProducts.packageRoot + "/scripts/sock-bridge"
        let copies = try TemporaryDirectory(prefix: "ast-sd-day")
        let hostBridge = try ChildProcess(
            "/usr/bin/python3", [script, "unix:\(socket)", "tcp:127.0.0.1:\(polygon.port)"], environment: CommandRunner.environment,
            name: "host-bridge", outputDirectory: copies.path)
        try await eventually(timeout: .seconds(20), "the host bridge to listen") { hostBridge.stdout.contains("listening") }
        let sandbox = try await SystemdSandbox.up()
        let local = """
            marketdata:
              polygon:
                base_url: \(polygon.baseURL)
              live:
                initial_sessions: \(SystemdProductionDayTests.history)
                min_bars_per_day: \(minBarsPerDay)
                retry_seconds: 10
                mark_min_dollar_volume: 1000
            """
        let day = ProductionDay(sandbox: sandbox, bridgeDir: bridgeDir, hostBridge: hostBridge, copies: copies, local: local)
        do {
            try await sandbox.installAST()
            // The key where production keeps it, /etc/credstore (LoadCredential=polygon_api_key) ...
            try await sandbox.check(
                [
                    "sh", "-c", "umask 077 && mkdir -p /etc/credstore && printf %s \"$1\" > /etc/credstore/polygon_api_key", "sh",
                    SystemdProductionDayTests.key,
                ])
            // ... but the sandbox's systemd cannot set credentials up (in sd-harness's nested
            // namespaces $CREDENTIALS_DIRECTORY stays an empty root-only directory, also for a
            // plain `LoadCredential=k:/file` unit), so the test's drop-in resets LoadCredential=
            // and the key comes from secrets_file (owned by ast, 0600), which AST reads exactly
            // when $CREDENTIALS_DIRECTORY is not set.
            try await sandbox.check([
                "sh", "-c",
                "umask 077 && printf 'polygon_api_key: %s\\n' \"$1\" > /etc/ast/secrets.yaml && chown ast:ast /etc/ast/secrets.yaml",
                "sh", SystemdProductionDayTests.key,
            ])
            // Every production setting (ast.production.yaml as the environment's file).
            try await sandbox.check(["cp", "/etc/ast/ast.production.yaml", "/etc/ast/ast.test.yaml"])
            try await day.setLocal(extra: "")
            // The same port inside, so that Polygon's next_url links work unchanged.
            try await sandbox.check([
                "systemd-run", "--unit=ast-test-polygon-bridge", "--collect", "/usr/bin/python3", script,
                "tcp:127.0.0.1:\(polygon.port)", "unix:\(socket)",
            ])
            try await eventuallyAsync(timeout: .seconds(20), "the sandbox's bridge to listen") {
                try await sandbox.exec(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(polygon.port)"]).status == 0
            }
        } catch {
            day.stop()
            throw error
        }
        return day
    }

    /// Writes ast.local.yaml: the start's settings and `extra` (read at the next ``hop(to:_:_:lead:)``).
    func setLocal(extra: String) async throws {
        try await sandbox.check(["sh", "-c", "printf '%s\\n' \"$1\" > /etc/ast/ast.local.yaml", "sh", local + "\n" + extra])
    }

    /// Every execution report the reconciler received from the broker, in order.
    func reports() throws -> [SentReport] {
        try entries("reconciler@main").filter { $0.record.kind == .received && $0.record.type == "execution.report" }.compactMap { e in
            guard case .executionReport(let r)? = try? EnvelopeCodec.decode(e.record.body).message else { return nil }
            let kind: String
            switch r.event {
            case .submitting: kind = "submitting"
            case .acknowledged: kind = "acknowledged"
            case .accepted: kind = "accepted"
            case .unacknowledged: kind = "unacknowledged"
            case .fill: kind = "fill"
            case .cancelled: kind = "cancelled"
            case .rejected: kind = "rejected"
            case .expired: kind = "expired"
            case .modified: kind = "modified"
            case .commission: kind = "commission"
            }
            return SentReport(kind: kind, order: r.event.clientOrderID.rawValue, line: "\(kind) \(r.event.clientOrderID)")
        }
    }

    func stop() {
        sandbox.down()
        hostBridge.signal(SIGKILL)
        try? FileManager.default.removeItem(atPath: bridgeDir)
        copies.remove()
    }

    /// Restarts the tree with its clock reading `hour:minute` of `date` (New York) minus `lead`
    /// seconds, and waits until astd reports every worker ready.
    func hop(to date: LocalDate, _ hour: Int, _ minute: Int, lead: Int64) async throws {
        let target = NewYorkTime.timestamp(date, LocalTime(hour: hour, minute: minute)).nanoseconds - lead * 1_000_000_000
        let offset = (target - SystemClock().now().nanoseconds) / 1_000_000_000
        let dropIn = "[Service]\nLoadCredential=\nEnvironment=AST_ENV=test AST_CLOCK__OFFSET_SECONDS=\(offset)\n"
        try await sandbox.check([
            "sh", "-c", "mkdir -p /etc/systemd/system/ast.service.d && printf '%s' \"$1\" > /etc/systemd/system/ast.service.d/50-day.conf",
            "sh", dropIn,
        ])
        try await sandbox.check(["systemctl", "daemon-reload"])
        try await sandbox.check(["systemctl", "stop", "ast.service"])
        try await sandbox.check(["systemctl", "start", "ast.target", "ast.service"])
        print("clock at \(date) \(hour):\(minute) - \(lead) s (offset \(offset) s)")
        try await eventuallyAsync(timeout: .seconds(120), "every worker ready at \(date) \(hour):\(minute)") {
            try await self.sandbox.astctl(["status"]).status == 0
        }
    }

    /// The journal of `process`, read from a copy (never opening the live file as another user).
    func entries(_ process: String) throws -> [JournalEntry] {
        let source = "/proc/\(sandbox.id)/root/var/lib/ast/journal/\(process).sqlite"
        let copy = copies("\(process)-\(UUID().uuidString).sqlite")
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) }
        }
        guard FileManager.default.fileExists(atPath: source) else { return [] }
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: source + suffix) {
            try FileManager.default.copyItem(atPath: source + suffix, toPath: copy + suffix)
        }
        return try WorkerTree.entries(path: copy, process: process)
    }

    func bodies(_ process: String, _ type: String) throws -> [String] {
        try entries(process).filter { $0.record.type == type }.map { String(decoding: $0.record.body, as: UTF8.self) }
    }

    func received(_ process: String, _ type: String) throws -> [String] {
        try entries(process).filter { $0.record.kind == .received && $0.record.type == type }
            .map { String(decoding: $0.record.body, as: UTF8.self) }
    }

    /// The strategy's schedule record of `task` for the session `date`, once there is one.
    func schedule(_ task: String, on date: LocalDate) async throws -> String {
        var found = ""
        try await waitFor("the \(task) of \(date)", timeout: .seconds(120)) {
            found =
                try bodies("strategy@main", "strategy.schedule").first {
                    $0.contains("\"task\":\"\(task)\"") && Self.time(of: $0).map { NewYorkTime.local($0).date == date } == true
                } ?? ""
            return !found.isEmpty
        }
        return found
    }

    /// The `time` of a schedule record (nanoseconds).
    static func time(of record: String) -> Timestamp? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any] else { return nil }
        let time = (object["time"] as? [String: Any])?["nanoseconds"] ?? object["time"]
        return (time as? NSNumber).map { Timestamp(nanoseconds: $0.int64Value) }
    }

    /// Bars in the production store whose session is `date`.
    func storedBars(on date: LocalDate) throws -> Int {
        let source = "/proc/\(sandbox.id)/root/var/lib/ast/marketdata/bars.sqlite"
        guard FileManager.default.fileExists(atPath: source) else { return 0 }
        let copy = copies("bars-\(UUID().uuidString).sqlite")
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) }
        }
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: source + suffix) {
            try FileManager.default.copyItem(atPath: source + suffix, toPath: copy + suffix)
        }
        let db = try DatabaseQueue(path: copy)
        defer { try? db.close() }
        let start = NewYorkTime.timestamp(date, TradingCalendar.regularOpen).nanoseconds
        return try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM bars WHERE start = ?", arguments: [start]) ?? 0 }
    }

    func waitFor(_ what: String, timeout: Duration, _ condition: () throws -> Bool) async throws {
        try await eventuallyAsync(timeout: timeout, every: .seconds(1), what) { try condition() }
    }

    /// Every journal's hash chain, checked by the installed astctl as an operator runs it.
    func verifyJournals() async throws {
        let verify = try await sandbox.astctl(["journal", "verify"])
        print("astctl journal verify: exit \(verify.status)\n\(verify.stdout)\(verify.stderr)")
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    /// What the test saw, for a failure: status, the unit, the journals' tails.
    func seen() async -> String {
        var out = ""
        if let status = try? await sandbox.astctl(["status"]) { out += "astctl status:\n\(status.stdout)\(status.stderr)\n" }
        if let unit = try? await sandbox.exec(["systemctl", "status", "--no-pager", "-n", "30", "ast.service"]) {
            out += "systemctl status ast.service:\n\(unit.stdout)\n"
        }
        for process in ["marketdata@main", "strategy@main"] {
            let tail = ((try? entries(process)) ?? []).suffix(12).map {
                "\($0.record.type) \(String(decoding: $0.record.body.prefix(300), as: UTF8.self))"
            }
            out += "\(process) journal tail:\n\(tail.joined(separator: "\n"))\n"
        }
        return out
    }
}
