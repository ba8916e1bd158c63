import ASTCalendar
import ASTCore
import ASTMarketData
import ASTTestKit
import Foundation
import Testing

/// `ast backtest` as a process: the files, their determinism, parity with `ast engine`, the
/// research mode, and report.html rendered by headless Chromium.
@Suite(.serialized) struct BacktestCommandTests {
    static let files = ["trades.csv", "equity.csv", "summary.json", "report.md", "report.html"]

    func read(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// A seeded random walk as a Yahoo CSV, on NYSE sessions.
    static func walkCSV(_ n: Int) -> String {
        var rng = SplitMix64(seed: 42)
        var out = "Date,Open,High,Low,Close,Adj Close,Volume\n"
        var p = 100.0
        let sessions = TradingCalendar.nyse.sessions(
            from: LocalDate(year: 2010, month: 1, day: 4)!, to: LocalDate(year: 2035, month: 12, day: 31)!)
        for d in sessions.prefix(n).map(\.date) {
            let open = p * (1 + 0.005 * rng.normal())
            p = max(1, p * (1 + 0.015 * rng.normal()))
            let hi = max(open, p) * 1.01, lo = min(open, p) * 0.99
            out += "\(d),\(f(open)),\(f(hi)),\(f(lo)),\(f(p)),\(f(p)),\(100_000 + rng.int(0...50_000))\n"
        }
        return out
    }

    static func f(_ x: Double) -> String { String(format: "%.2f", x) }

    @Test(.timeLimit(.minutes(4)))
    func theEngineBacktestWritesTheSameFilesTwiceAndTradesAsAstEngineDoes() async throws {
        let tree = try CLITree()
        let ingest = try await tree.ast(["ingest", "--bundled", "--store", tree.store])
        #expect(ingest.exitCode == 0, "\(ingest.stderr)")
        // The demo's sessions: marketdata.replay (from 2025-07-01, 15 sessions: to 2025-07-22).
        let args = ["backtest", "--from", "2025-07-01", "--to", "2025-07-22", "--store", tree.store, "--out"]
        let a = try await tree.ast(args + [tree.dir("a")])
        let b = try await tree.ast(args + [tree.dir("b")])
        #expect(a.exitCode == 0 && b.exitCode == 0, "\(a.stderr)\(b.stderr)")
        #expect(a.stdout.contains("backtest: 15 sessions"), "\(a.stdout)")
        for name in Self.files {
            #expect(try read(tree.dir("a/\(name)")) == read(tree.dir("b/\(name)")), "\(name) differs between two runs")
        }
        // Parity: the same engine run as `ast engine` (which the parity test holds equal to the tree).
        let engine = try await tree.ast(["engine", "--from", "2025-07-01", "--sessions", "15", "--store", tree.store])
        #expect(engine.exitCode == 0, "\(engine.stderr)")
        let equity = try String(contentsOfFile: tree.dir("a/equity.csv"), encoding: .utf8).split(separator: "\n")
        let finalEquity = equity.last.map { String($0.split(separator: ",")[1]) } ?? "?"
        #expect(
            engine.stdout.contains("final equity \(finalEquity),"),
            "equity.csv ends at \(finalEquity); ast engine: \(engine.stdout.suffix(400))")
        let trades = try String(contentsOfFile: tree.dir("a/trades.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(!trades.isEmpty)
        let pnl = trades.reduce(Money.zero) { $0 + Money(String($1.split(separator: ",")[7]))! }
        #expect(pnl == Money(finalEquity)! - Money("100000")!, "the trades' P&L is the equity's change")
        // The same data set as CSV files (--csv-dir) gives the same trades and equity.
        try BundledData.write(into: tree.dir("dataset"))
        let fromCSV = try await tree.ast([
            "backtest", "--from", "2025-07-01", "--to", "2025-07-22", "--csv-dir", tree.dir("dataset"), "--quiet", "--out", tree.dir("c"),
        ])
        #expect(fromCSV.exitCode == 0, "\(fromCSV.stderr)")
        for name in ["trades.csv", "equity.csv"] {
            #expect(try read(tree.dir("a/\(name)")) == read(tree.dir("c/\(name)")), "\(name): --csv-dir differs from the store")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func theResearchModeIsDeterministicAndRefusesBadOptions() async throws {
        let tree = try CLITree()
        let csv = try tree.write("WALK.csv", Self.walkCSV(600))
        let args = [
            "backtest", "--csv", csv, "--strategy", "sma_cross:10,20", "--size", "shares:100", "--fill", "next_open", "--commission", "0",
            "--capital", "10000", "--out",
        ]
        let a = try await tree.ast(args + [tree.dir("a")])
        let b = try await tree.ast(args + [tree.dir("b")])
        #expect(a.exitCode == 0 && b.exitCode == 0, "\(a.stderr)\(b.stderr)")
        for name in Self.files {
            #expect(try read(tree.dir("a/\(name)")) == read(tree.dir("b/\(name)")), "\(name) differs between two runs")
        }
        let trades = try String(contentsOfFile: tree.dir("a/trades.csv"), encoding: .utf8).split(separator: "\n")
        #expect(trades.count > 5 && trades[1].hasPrefix("WALK,long,"), "\(trades.prefix(3))")
        let summary = try String(contentsOfFile: tree.dir("a/summary.json"), encoding: .utf8)
        #expect(summary.contains("\"benchmark\": \"WALK\"") && summary.contains("\"trades\": \(trades.count - 1)"), "\(summary)")
        let bad = try await tree.ast(["backtest", "--csv", csv, "--strategy", "sma_cross:20,10", "--out", tree.dir("c")])
        #expect(bad.exitCode == 64 && bad.stderr.contains("FAST < SLOW"), "\(bad.stderr)")
        let noDates = try await tree.ast(["backtest", "--out", tree.dir("c")])
        #expect(noDates.exitCode == 64, "\(noDates.stderr)")
    }

    /// report.html renders in headless Chromium (a screenshot far from blank) and refers to
    /// nothing outside itself.
    @Test(.timeLimit(.minutes(3)))
    func theHTMLReportRendersItsChartsInChromiumAndIsSelfContained() async throws {
        let tree = try CLITree()
        let csv = try tree.write("WALK.csv", Self.walkCSV(400))
        let run = try await tree.ast(["backtest", "--csv", csv, "--capital", "10000", "--out", tree.dir("out")])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let html = try String(contentsOfFile: tree.dir("out/report.html"), encoding: .utf8)
        for external in ["http:", "https:", "//", "<script", "src=", "href=", "url(", "@import", "<link", "@font-face"] {
            #expect(!html.lowercased().contains(external), "report.html contains '\(external)'")
        }
        #expect(html.components(separatedBy: "<svg").count - 1 == 4, "equity, drawdown, monthly returns, price")
        #expect(html.contains("<polyline") && html.contains("<polygon") && html.contains("<rect"))
        guard
            let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            Issue.record("no headless Chromium (Debian's chromium package; scripts/setup installs it)")
            return
        }
        let blank = try tree.write("blank.html", "<!DOCTYPE html><html><body></body></html>\n")
        func shot(_ page: String, _ png: String) async throws -> Int {
            let child = try ChildProcess(
                chromium,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--window-size=1000,1800",
                    "--user-data-dir=\(tree.dir("chromium"))", "--screenshot=\(png)", "file://\(page)",
                ], environment: ["HOME": tree.dir("home"), "PATH": "/usr/bin:/bin"], name: "chromium-\(UUID().uuidString.prefix(8))",
                outputDirectory: tree.dir.path)
            defer { child.stop(graceSeconds: 1) }
            let status = try await child.waitForExit(timeout: .seconds(90))
            #expect(ChildProcess.exitCode(status) == 0, "chromium: \(child.stderr.suffix(2000))")
            return (try? read(png).count) ?? 0
        }
        let report = try await shot(tree.dir("out/report.html"), tree.dir("report.png"))
        let empty = try await shot(blank, tree.dir("blank.png"))
        let png = try read(tree.dir("report.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
        // A blank page compresses to almost nothing; text and charts do not.
        #expect(empty > 0 && report > 5 * empty, "screenshot \(report) bytes against \(empty) for a blank page")
    }
}
