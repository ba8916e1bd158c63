import ASTCore
import ASTJournal
import ASTTestKit
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// ast-web (M15) under a real astd on the replay clock: the token in a secrets file, the
/// dashboard on a loopback port of its own, the six workers plus web@main.
final class WebFixture {
    let token = "web-\(UUID().uuidString)"
    let secretsDir: TemporaryDirectory
    let port: Int

    init() throws {
        secretsDir = try TemporaryDirectory(prefix: "ast-webs")
        try "ast_web_token: \"\(token)\"\n".write(toFile: secretsDir("secrets.yaml"), atomically: true, encoding: .utf8)
        chmod(secretsDir("secrets.yaml"), 0o600)
        port = Self.freePort()
    }

    deinit { secretsDir.remove() }

    var base: String { "http://127.0.0.1:\(port)" }

    /// SupervisedTree gives every tree `AST_WEB__PORT=0`; this one listens where the test looks.
    var environment: [String: String] { ["AST_WEB__PORT": String(port)] }

    /// A port the kernel had free a moment ago.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The overlay: replay `sessions`, the secrets file, the port, and the children with web@main last.
    /// `givenUpRetryMs`: how soon a given-up web@main is started again (a test that kills it past its
    /// restart budget and then reads its pages).
    func overlay(sessions: Int, givenUpRetryMs: Int? = nil) -> String {
        SupervisedTree.replay(sessions: sessions)
            + """
            secrets_file: \(secretsDir("secrets.yaml"))
            web:
              address: 127.0.0.1
              port: \(port)
              live_interval_ms: 100
            supervisor:
            \(givenUpRetryMs.map { "  given_up_retry_ms: \($0)\n" } ?? "")
            """ + SupervisorTests.children(watchdogMs: 10000)
                + """
                    - name: web@main
                      executable: ast-web
                      arguments: []
                      restart: permanent
                      shutdown_timeout_ms: 2000
                      watchdog_ms: 10000
                      on_crash: none
                      critical: false

                """
    }

    /// `/metrics` through metrics_check.py (prometheus_client's parser, the naming conventions and,
    /// with `rules`, the alert rules' metrics): its JSON summary.
    func metrics(in dir: TemporaryDirectory, rules: Bool = false) async throws -> MetricsSummary {
        let rulesFile = BuildProducts.packageRoot + "/etc/prometheus/ast-alerts.yml"
        let oracle = try ChildProcess(
            try Self.python(),
            [BuildProducts.packageRoot + "/Tests/IntegrationTests/Web/metrics_check.py", base] + (rules ? [rulesFile] : []),
            environment: ProcessInfo.processInfo.environment, name: "metrics-check", outputDirectory: dir.path)
        let exit = try await oracle.waitForExit(timeout: .seconds(60))
        guard ChildProcess.exitCode(exit) == 0, let line = oracle.stdout.split(separator: "\n").last,
            let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw HarnessError("metrics_check.py failed: \(oracle.stderr.suffix(3000))") }
        return MetricsSummary(json: json)
    }

    /// A backtest's output in the tree's reports directory (`<state_dir>/reports`), beside the daily
    /// reports, plus symlinks out of it: to a directory and to a file holding OUTSIDE-SECRET.
    static func reports(in tree: SupervisedTree) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: tree.dir("state/reports/backtest-web"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: tree.dir("state/outside"), withIntermediateDirectories: true)
        try "OUTSIDE-SECRET\n".write(toFile: tree.dir("state/outside/secret.md"), atomically: true, encoding: .utf8)
        try "# Backtest\n".write(toFile: tree.dir("state/reports/backtest-web/report.md"), atomically: true, encoding: .utf8)
        try "{\"total_return\": 0.01}\n".write(
            toFile: tree.dir("state/reports/backtest-web/summary.json"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: tree.dir("state/reports/escape"), withDestinationPath: tree.dir("state/outside"))
        try fm.createSymbolicLink(
            atPath: tree.dir("state/reports/backtest-web/leak.md"), withDestinationPath: tree.dir("state/outside/secret.md"))
    }

    /// python3 from PATH (the test oracles' interpreter, with jsonschema; scripts/test installs it).
    static func python() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw HarnessError("no python3 on PATH")
    }
}

/// What metrics_check.py printed about `/metrics`.
struct MetricsSummary {
    let json: [String: Any]
    var errors: [String] { json["errors"] as? [String] ?? ["no errors field"] }
    var samples: [(name: String, labels: [String: String], value: Double)] {
        (json["samples"] as? [[Any]] ?? []).compactMap { s in
            guard s.count == 3, let n = s[0] as? String, let l = s[1] as? [String: String], let v = s[2] as? Double else { return nil }
            return (n, l, v)
        }
    }
    /// The sum of `name`'s samples whose labels include `labels` (0 when there is none).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }
    func has(_ name: String) -> Bool { samples.contains { $0.name == name } }
}

@Suite(.serialized) struct WebTests {
    @Test(.timeLimit(.minutes(3)))
    func everyEndpointMatchesItsOpenAPIDocumentAndActionsNeedTheTokenFromThisOrigin() async throws {
        let web = try WebFixture()
        let tree = try await SupervisedTree(overlay: web.overlay(sessions: 3), extraEnvironment: web.environment)
        let status = try await tree.waitAllReady(timeout: .seconds(60))
        #expect(status.children.last?.name == "web@main" && status.children.last?.onCrash == "none")
        // Intents, decisions and daily reports exist once the sessions are played.
        try await tree.waitForTheReplayToFinish(timeout: .seconds(90))
        try WebFixture.reports(in: tree)
        let serving = try tree.status().flatMap { tree.child("web@main", in: $0.0)?.statusText }
        #expect(serving == "serving \(web.base)", "astctl status names where the dashboard serves: \(serving ?? "-")")
        let reason = "dashboard test halt \(UUID().uuidString.prefix(8))"
        let oracle = try ChildProcess(
            try WebFixture.python(),
            [BuildProducts.packageRoot + "/Tests/IntegrationTests/Web/api_check.py", web.base, web.token, reason],
            environment: ProcessInfo.processInfo.environment, name: "api-check", outputDirectory: tree.dir.path)
        let exit = try await oracle.waitForExit(timeout: .seconds(90))
        #expect(ChildProcess.exitCode(exit) == 0, "api_check.py: \(oracle.stderr.suffix(3000))")
        let line = try #require(oracle.stdout.split(separator: "\n").last, "api_check.py printed nothing: \(oracle.stderr.suffix(2000))")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect((summary["errors"] as? [String]) == [], "\(summary["errors"] ?? "-")")
        let validated = (summary["validated"] as? [String: Bool]) ?? [:]
        for path in ["status", "positions", "orders", "equity", "alerts"] {
            #expect(validated["GET /\(path) 200"] == true, "GET /api/v1/\(path) validated against the OpenAPI document")
        }
        for path in ["intents", "reports", "timeline", "reports/{name}"] {
            #expect(validated["GET /\(path) 200"] == true, "GET /api/v1/\(path) validated against the OpenAPI document")
        }
        #expect(validated["GET /timeline 400"] == true && summary["timeline_bad_id"] as? Int == 400)
        #expect((summary["intents"] as? Int ?? 0) > 0, "the risk gate decided intents in 3 sessions: \(summary["intents"] ?? "-")")
        print(
            "web: intents \(summary["intents"] ?? "-"), decisions \(summary["decisions"] ?? "-"), reasons \(summary["reason_codes"] ?? "-")"
        )
        let kinds = (summary["timeline_kinds"] as? [String]) ?? []
        #expect(kinds.contains("intent") && kinds.contains("decision"), "the intent's timeline: \(kinds)")
        let reports = (summary["reports"] as? [String: String]) ?? [:]
        #expect(reports["backtest-web"] == "backtest" && reports.values.contains("daily") && reports["escape"] == nil, "\(reports)")
        #expect(summary["report_escape"] as? Int == 404)
        #expect((summary["inside"] as? [Any])?.first as? Int == 200 && (summary["inside"] as? [Any])?.last as? String == "# Backtest\n")
        let outside = (summary["outside"] as? [String: [Any]]) ?? [:]
        #expect(outside.count == 11)
        for (path, answer) in outside {
            let code = answer.first as? Int ?? 0
            #expect((400..<500).contains(code) && answer.last as? Bool == false, "\(path) must not leave the reports directory: \(answer)")
        }
        let refusals = (summary["refusals"] as? [String: Int]) ?? [:]
        #expect(refusals == ["none": 401, "wrong": 401, "cross_origin": 403, "cross_site": 403], "\(refusals)")
        #expect(summary["halt"] as? Int == 200 && summary["halt_state"] as? String == "HALTED")
        #expect(summary["status_after_halt"] as? String == "HALTED")
        let headers = (summary["headers"] as? [String: String]) ?? [:]
        let policy = headers["content-security-policy"] ?? ""
        #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline") && policy.contains("frame-ancestors 'none'"))
        #expect(headers["x-frame-options"] == "DENY" && headers["x-content-type-options"] == "nosniff")

        // The risk gate journaled the halt with the operator's reason, as it does astctl's ...
        let risk = try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
        #expect(risk.contains { $0.record.type == "risk.input" && String(decoding: $0.record.body, as: UTF8.self).contains(reason) })
        // ... and ast-web journaled every action it was asked for: who, why, and what came of it.
        let actions = try WorkerTree.entries(path: tree.dir("state/journal/web@main.sqlite"), process: "web@main")
            .filter { $0.record.type == "web.action" }
            .map { String(decoding: $0.record.body, as: UTF8.self) }
        #expect(actions.count == 5, "\(actions)")
        #expect(actions.filter { $0.contains("\"accepted\":false") }.count == 4)
        #expect(actions.contains { $0.contains("\"accepted\":true") && $0.contains(reason) && $0.contains("\"caller\":\"control@web\"") })
    }
}

extension WebTests {
    @Test(.timeLimit(.minutes(3)))
    func aBrowserLoadsEveryPageFromThisOriginOnlyAndSeesTheHaltLive() async throws {
        let chromium = try #require(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "no headless Chromium (Debian's chromium package; scripts/setup installs it)")
        let web = try WebFixture()
        let tree = try await SupervisedTree(overlay: web.overlay(sessions: 3), extraEnvironment: web.environment)
        _ = try await tree.waitAllReady(timeout: .seconds(60))
        // The halt comes from outside the page: astctl, as an operator at a terminal would.
        let env = tree.environment.map { "\($0.key)=\($0.value)" }
        let oracle = try ChildProcess(
            try WebFixture.python(),
            [
                BuildProducts.packageRoot + "/Tests/IntegrationTests/Web/browser_check.py", chromium, web.base, tree.dir.path, "--",
                "/usr/bin/env",
            ]
                + env + [try BuildProducts.executable("astctl"), "halt", "--reason", "browser test"],
            environment: ProcessInfo.processInfo.environment, name: "browser-check", outputDirectory: tree.dir.path)
        let exit = try await oracle.waitForExit(timeout: .seconds(150))
        #expect(ChildProcess.exitCode(exit) == 0, "browser_check.py: \(oracle.stderr.suffix(3000))")
        let line = try #require(
            oracle.stdout.split(separator: "\n").last, "browser_check.py printed nothing: \(oracle.stderr.suffix(2000))")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let pages = (summary["pages"] as? [String: [String: Any]]) ?? [:]
        for path in ["/", "/positions", "/intents", "/fills", "/equity", "/alerts", "/timeline", "/reports"] {
            let page = pages[path] ?? [:]
            #expect(page["loaded"] as? Bool == true && (page["title"] as? String)?.hasPrefix("AST") == true, "\(path) loaded: \(page)")
            // A blank page is one colour; the dashboard's tables, header and state badges are many.
            #expect((page["colours"] as? Int ?? 0) >= 8, "\(path) screenshot is not blank: \(page)")
        }
        #expect((summary["requests"] as? [String] ?? []).contains(web.base + "/static/app.js"))
        #expect((summary["foreign"] as? [String]) == [], "requests to another origin: \(summary["foreign"] ?? "-")")
        #expect((summary["console"] as? [String]) == [], "console or CSP complaints: \(summary["console"] ?? "-")")
        let halt = (summary["halt"] as? [String: Any]) ?? [:]
        #expect(halt["before"] as? String == "ACTIVE" && halt["shown"] as? Bool == true && halt["reloaded"] as? Bool == false, "\(halt)")
        // Measured, not asserted (timing is for BENCHMARKS.md): how long the page took to follow.
        print("web: the page showed HALTED \(halt["ms_after_command_returned"] ?? "-") ms after astctl halt returned")
    }
}

extension WebTests {
    /// ast-web crash-looping never touches trading: killed again and again (SIGKILL) while the
    /// replay trades and while its pages and event streams are being asked for, the tree still
    /// matches the engine trade for trade (`ast engine --compare-state-dir`, the parity check).
    @Test(.timeLimit(.minutes(4)))
    func killingTheDashboardAgainAndAgainWhileTheDemoTradesChangesNoTrade() async throws {
        let sessions = 8
        let web = try WebFixture()
        // Killed past its restart budget, web@main is given up on and started again 1 s later, so that
        // /metrics can be read once the replay is over.
        let tree = try await SupervisedTree(
            overlay: web.overlay(sessions: sessions, givenUpRetryMs: 1000), extraEnvironment: web.environment)
        _ = try await tree.waitAllReady(timeout: .seconds(60))
        // /metrics before the sessions trade, to see its counters move (README, "Metrics").
        let before = try await web.metrics(in: tree.dir)
        var kills = 0
        var lastKilled: Int32?
        var finished = false
        let deadline = ContinuousClock.now + .seconds(180)
        while !finished && ContinuousClock.now < deadline {
            guard let (s, _) = try tree.status() else { continue }
            finished = tree.child("marketdata@main", in: s)?.statusText?.hasPrefix("replay finished") == true
            if let w = tree.child("web@main", in: s), let pid = w.pid, w.ready, pid != lastKilled {
                // A client in the middle of a page and of an event stream when it dies.
                let curl = try ChildProcess(
                    "/usr/bin/env", ["curl", "-s", "-m", "2", "\(web.base)/events", "\(web.base)/positions"],
                    environment: ["PATH": "/usr/bin:/bin"], name: "curl-\(kills)", outputDirectory: tree.dir.path)
                try await Task.sleep(for: .milliseconds(150))
                kill(pid, SIGKILL)
                kills += 1
                lastKilled = pid
                _ = curl
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(finished, "the replay finished with ast-web killed \(kills) times")
        #expect(kills >= 3, "ast-web was killed \(kills) times")
        try await checkMetricsAfterTheReplay(web: web, tree: tree, before: before, kills: kills)
        print("web: ast-web killed \(kills) times during \(sessions) replayed sessions")
        #expect(try tree.status()?.0.safeMode?.state != .halted, "a dashboard crash never halts trading")
        let (code, out, err) = try await tree.stopAndCompareWithTheEngine(sessions: sessions, timeout: .seconds(180))
        #expect(
            code == 0 && out.contains("parity: the tree matched the engine trade for trade"), "\(out.suffix(3000))\n\(err.suffix(1500))")
        #expect(!out.contains(" 0 fills"), "the sessions traded: \(out.suffix(1500))")
    }
}

extension WebTests {
    /// After the replay: /metrics parses (prometheus_client) and follows the conventions, every
    /// alert rule names exported metrics, the broker's orders and fills moved as the sessions
    /// traded, and astd counted each SIGKILL of ast-web as a restart of web@main.
    func checkMetricsAfterTheReplay(web: WebFixture, tree: SupervisedTree, before: MetricsSummary, kills: Int) async throws {
        // web@main was killed last: wait until it is back (the metrics files never went away).
        let back = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < back {
            if let (s, _) = try tree.status(), let w = tree.child("web@main", in: s), w.ready { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // Every process writes its snapshot every second: wait for one taken after the replay.
        try await Task.sleep(for: .milliseconds(1500))
        let after = try await web.metrics(in: tree.dir, rules: true)
        #expect(before.errors == [] && after.errors == [], "metrics_check.py: \(before.errors) \(after.errors)")
        #expect((after.json["content_type"] as? String)?.hasPrefix("text/plain; version=0.0.4") == true)
        let broker = ["process": "broker@paper"]
        let (orders, fills) = (after.value("ast_broker_orders_total", broker), after.value("ast_broker_fills_total", broker))
        #expect(
            orders > before.value("ast_broker_orders_total", broker),
            "orders \(before.value("ast_broker_orders_total", broker)) -> \(orders)")
        #expect(
            fills > before.value("ast_broker_fills_total", broker), "fills \(before.value("ast_broker_fills_total", broker)) -> \(fills)")
        let restarts = after.value("ast_supervisor_restarts_total", ["process": "astd", "child": "web@main"])
        #expect(restarts >= Double(kills), "astd counted \(restarts) restarts of web@main after \(kills) SIGKILLs")
        #expect(after.value("ast_supervisor_restarts_total", ["child": "risk@main"]) == 0)
        #expect(after.value("ast_safe_mode", ["process": "risk@main", "state": "HALTED"]) == 0)
        #expect(after.value("ast_safe_mode", ["process": "risk@main"]) == 1, "one Safe Mode state at a time")
        for process in [
            "astd", "risk@main", "broker@paper", "reconciler@main", "notifier@main", "strategy@main", "marketdata@main", "web@main",
        ] {
            #expect(after.value("ast_metrics_snapshot_valid", ["process": process]) == 1, "\(process)'s snapshot accepted")
            #expect(after.value("ast_journal_append_duration_seconds_count", ["process": process]) > 0, "\(process) journal appends")
            #expect(after.value("ast_journal_size_bytes", ["process": process]) > 0, "\(process) journal size")
        }
        #expect(after.value("ast_bus_frames_in_total", ["process": "risk@main", "side": "server"]) > 0)
        #expect(after.value("ast_bus_frames_out_total", ["process": "reconciler@main", "side": "client"]) > 0)
        #expect(after.has("ast_equity_dollars") && after.has("ast_notifier_pending_p0_alerts") && after.has("ast_watchdog_pings_total"))
        print("web: /metrics after the replay: \(Int(orders)) orders, \(Int(fills)) fills, web@main restarted \(Int(restarts)) times")
    }
}
