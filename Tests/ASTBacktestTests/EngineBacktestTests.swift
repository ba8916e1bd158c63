import ASTBacktest
import ASTCalendar
import ASTCore
import ASTEngine
import ASTEngineData
import ASTExecution
import ASTMarketData
import ASTPaperBroker
import ASTRisk
import ASTRuntime
import ASTStrategy
import Foundation
import Testing

/// The bundled universe and the shipped configuration (etc/ast.yaml), as the demo trades them.
enum EngineFixture {
    static let market = EngineMarketData.make(BundledData.universe())
    static let config: EngineConfig = {
        let etc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("etc").path
        let c = try! ConfigLoader(directory: etc, variables: [:]).load(ASTConfig.self)
        return EngineConfig(
            pipeline: c.strategy ?? PipelineConfig(), limits: c.risk.limits, paper: c.paperBroker ?? .standard, brokerName: c.risk.broker)
    }()
    static let sessions = market.sessions(from: LocalDate("2025-07-01")!, count: 30)
    static let output = try! Engine(config: config, market: market).run(sessions: sessions)
    static let result = EngineBacktest.result(
        output: output, market: market, sessions: sessions, capital: config.paper.startingCash, parameters: [("mode", "engine")])
}

@Suite struct EngineBacktestTests {
    /// The backtest's trades are the engine's fills, nothing added or lost: every share bought
    /// is in a trade, and the trades' P&L adds up to the engine's final equity minus the capital.
    @Test func theTradesAreExactlyTheEnginesFills() {
        let o = EngineFixture.output, r = EngineFixture.result
        #expect(!r.trades.isEmpty)
        var bought: [Symbol: Int64] = [:], traded: [Symbol: Int64] = [:]
        for f in o.fills where f.side == .buy { bought[f.symbol, default: 0] += f.quantity.shares }
        for t in r.trades where t.side == .buy { traded[t.symbol, default: 0] += t.quantity.shares }
        #expect(bought == traded)
        #expect(r.commissions.units == o.fills.reduce(0) { $0 + $1.commission.units })
        let pnl = r.trades.reduce(Int64(0)) { $0 + $1.pnl.units }
        #expect(pnl == (o.equity.last!.equity - EngineFixture.config.paper.startingCash).units)
        #expect(r.days.map(\.equity) == o.equity.map(\.equity))
        #expect(r.benchmark?.symbol == "IDX")
    }

    @Test func theSameBacktestGivesTheSameBytes() throws {
        let again = try Engine(config: EngineFixture.config, market: EngineMarketData.make(BundledData.universe())).run(
            sessions: EngineFixture.sessions)
        let b = EngineBacktest.result(
            output: again, market: EngineFixture.market, sessions: EngineFixture.sessions,
            capital: EngineFixture.config.paper.startingCash, parameters: [("mode", "engine")])
        let a = EngineFixture.result
        let (sa, sb) = (BacktestStatistics.compute(a), BacktestStatistics.compute(b))
        #expect(BacktestFiles.tradesCSV(a) == BacktestFiles.tradesCSV(b))
        #expect(BacktestFiles.equityCSV(a) == BacktestFiles.equityCSV(b))
        #expect(BacktestFiles.summaryJSON(a, sa) == BacktestFiles.summaryJSON(b, sb))
        #expect(BacktestFiles.reportMarkdown(a, sa) == BacktestFiles.reportMarkdown(b, sb))
        #expect(BacktestHTML.report(a, sa) == BacktestHTML.report(b, sb))
    }

    /// No look-ahead in the engine: bars after session D, however different, change nothing the
    /// engine did through D's after-market run.
    @Test func laterBarsChangeNothingTheEngineDidBefore() throws {
        let sessions = Array(EngineFixture.sessions.prefix(12))
        let cut = sessions[6]
        let u = BundledData.universe()
        let changed = u.allBars.map { b -> Bar in
            guard NewYorkTime.local(b.start).date > cut.date else { return b }
            var x = b
            x.open = Price(units: b.open.units * 2)
            x.high = Price(units: b.high.units * 3)
            x.low = Price(units: b.low.units / 2)
            x.close = Price(units: b.close.units * 2)
            x.volume = b.volume * 5
            return x
        }
        let m2 = EngineMarketData.make(symbols: u.symbols, bars: changed, actions: u.actions, events: u.events)
        let a = try Engine(config: EngineFixture.config, market: EngineFixture.market).run(sessions: sessions)
        let b = try Engine(config: EngineFixture.config, market: m2).run(sessions: sessions)
        let end = NewYorkTime.timestamp(cut.date, LocalTime(hour: 23, minute: 59))
        #expect(a.intents.filter { $0.createdAt <= end } == b.intents.filter { $0.createdAt <= end })
        #expect(a.decisions.filter { $0.at <= end } == b.decisions.filter { $0.at <= end })
        #expect(a.reports.filter { $0.at <= end } == b.reports.filter { $0.at <= end })
        #expect(Array(a.sessions.prefix(7)) == Array(b.sessions.prefix(7)))
        #expect(a.sessions != b.sessions, "the later bars did change the later sessions")
    }
}
