import ASTCalendar
import ASTCore
import ASTIndicators
import ASTRisk
import Foundation
import Testing

@testable import ASTStrategy

/// A small synthetic market on Monday 2026-03-02: SPY in a steady up-trend with VIX at 15 (bull).
/// AAPL, TSLA and NVDA have the same V-shaped path whose 5/20 SMA crossover is on Friday's bar,
/// with ±1 bars (ATR14 exactly 2); MSFT climbs steadily (no crossover); OTCX trades over the
/// counter; PNY is a penny stock. TSLA reports earnings on Wednesday; NVDA is already held.
enum Market {
    static let closes = crossoverCloses()

    static var config: PipelineConfig {
        var c = PipelineConfig()
        c.detectors = [PluginConfig(name: "ma_crossover", params: ["fast": 5, "slow": 20]), PluginConfig(name: "platform_breakout")]
        c.strategy = PluginConfig(name: "bracket", params: ["id": "macross"])
        c.sizing.maxPositionPct = 30
        return c
    }

    static var input: ScanInput {
        let universe: [SymbolHistory] = [
            SymbolHistory(info: info("TSLA", sector: "Autos"), bars: series("TSLA", closes: closes)),
            SymbolHistory(info: info("AAPL"), bars: series("AAPL", closes: closes)),
            SymbolHistory(info: info("NVDA"), bars: series("NVDA", closes: closes)),
            SymbolHistory(info: info("MSFT"), bars: series("MSFT", closes: trend(from: 80, count: 300, stepPct: 0.1), halfRange: 1.5)),
            SymbolHistory(info: info("OTCX", exchange: "OTC"), bars: series("OTCX", closes: closes)),
            SymbolHistory(
                info: info("PNY"), bars: series("PNY", closes: Array(repeating: 2, count: 300), halfRange: 0.05, volume: 50_000_000)),
        ]
        let held = PositionSnapshot(quantity: 10, averagePrice: px(90), sector: "Technology", lastMark: px(100))
        return ScanInput(
            date: scanDate, universe: universe,
            index: pctSeries("SPY", closes: trend(from: 400, count: 300, stepPct: 0.2), rangePct: 1),
            volatilityIndex: series("VIX", closes: Array(repeating: 15, count: 300), halfRange: 0.5),
            portfolio: portfolio(positions: ["NVDA": held]),
            events: [CorporateEvent(symbol: "TSLA", date: d("2026-03-04"), kind: .earnings)])
    }
}

@Suite struct PipelineEndToEnd {
    @Test func aSmallUniverseProducesTheKnownIntent() throws {
        let result = PipelineRun(config: Market.config).scan(Market.input)
        #expect(result.configProblems == [])
        #expect(result.tradingDay && result.previousSession == d("2026-02-27"))
        #expect(result.createdAt == NewYorkTime.timestamp(scanDate, LocalTime(hour: 9, minute: 0)))
        #expect(result.regime.regime == .bull, "\(result.regime.reasons)")
        #expect(result.universe.considered == 6)
        #expect(result.universe.included == ["AAPL", "MSFT", "NVDA", "TSLA"])
        #expect(result.universe.excluded.map(\.symbol) == ["OTCX", "PNY"])
        #expect(result.universe.excluded.map { $0.reasons.map(\.code) } == [["EXCHANGE_NOT_ALLOWED"], ["PRICE_BELOW_MIN"]])
        #expect(result.candidates.map(\.detector) == ["ma_crossover", "platform_breakout"])
        #expect(result.candidates[0].candidates.map(\.symbol) == ["AAPL", "NVDA", "TSLA"])
        #expect(result.candidates[1].candidates.isEmpty)
        #expect(result.filteredOut.map(\.symbol) == ["NVDA"])
        #expect(result.filteredOut[0].rejections.map(\.filter) == ["not_held"])
        #expect(result.eventBlocks.map(\.symbol) == ["TSLA"])
        #expect(result.eventBlocks[0].reason == "2 sessions before earnings on 2026-03-04 (window 3 sessions before, 1 after)")

        // ATR14 is 2.00: entry at the last close, stop 2 ATR below, target 2 R above; 1 % of
        // 100,000 at risk over 4.00 a share = 250 shares.
        let last = px(Market.closes.last!)
        #expect(
            result.intents == [
                IntentGroup(
                    id: "2026-03-02.macross.AAPL", symbol: "AAPL", sector: "Technology", side: .buy, quantity: 250, entry: .limit(last),
                    stopLoss: last - px(4), takeProfit: last + px(8), createdAt: result.createdAt)
            ])
        #expect(result.sizing.map(\.shares) == [250])
        // The union of what the detectors, filters and strategy declared, each node once.
        #expect(result.indicatorPlan == ["sma:5", "sma:20", "true_range", "atr:14", "rsi:14"])
    }

    @Test func theResultIsDeterministicAndIndependentOfInputOrder() throws {
        let run = PipelineRun(config: Market.config)
        var shuffled = Market.input
        shuffled.universe.reverse()
        let a = run.scan(Market.input), b = run.scan(shuffled)
        #expect(a == b)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(a) == encoder.encode(b))
    }

    @Test func theReportUsesSnakeCaseKeys() throws {
        let result = PipelineRun(config: Market.config).scan(Market.input)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as! [String: Any]
        #expect(
            json.keys.sorted() == [
                "candidates", "config_problems", "created_at", "date", "event_blocks", "filtered_out", "indicator_plan", "intents", "notes",
                "previous_session", "rationales", "regime", "sizing", "skipped", "trading_day", "universe",
            ])
        let intent = (json["intents"] as! [[String: Any]])[0]
        #expect(intent["id"] as? String == "2026-03-02.macross.AAPL")
        #expect((json["sizing"] as! [[String: Any]])[0]["per_share_risk"] as? String == "4.00")
    }

    @Test func aRegimeThatForbidsLongsStopsEveryCandidate() {
        var input = Market.input
        input.volatilityIndex = series("VIX", closes: Array(repeating: 45, count: 300), halfRange: 0.5)
        let result = PipelineRun(config: Market.config).scan(input)
        #expect(result.regime.regime == .bear)
        #expect(result.intents.isEmpty)
        #expect(result.filteredOut.map(\.symbol) == ["AAPL", "NVDA", "TSLA"])
    }

    @Test func aHolidayHasNoScan() {
        var input = Market.input
        input.date = d("2026-04-03")
        let result = PipelineRun(config: Market.config).scan(input)
        #expect(!result.tradingDay)
        #expect(result.intents.isEmpty)
        #expect(result.notes == ["2026-04-03 is not an NYSE trading day: no scan"])
    }

    @Test func theConfigurationDecodesFromSnakeCaseWithDefaults() throws {
        let json = #"""
            {"universe": {"min_price": 10, "exchanges": ["NYSE"]},
             "detectors": [{"name": "platform_breakout", "params": {"platform_sessions": 10}}],
             "event_guard": {"earnings": {"before": 5, "after": 2}},
             "strategy": {"name": "bracket", "params": {"id": "demo", "stop_atr_multiple": 1.5}}}
            """#
        let c = try JSONDecoder().decode(PipelineConfig.self, from: Data(json.utf8))
        #expect(c.universe.minPrice == Price(dollars: 10)!)
        #expect(c.universe.minHistorySessions == 250)
        #expect(c.eventGuard.earnings == EventWindow(before: 5, after: 2))
        #expect(c.eventGuard.dividend == EventWindow(before: 1, after: 0))
        #expect(c.problems() == [])
        let again = try JSONDecoder().decode(PipelineConfig.self, from: JSONEncoder().encode(c))
        #expect(again == c)
    }

    @Test func configurationProblemsAreCollectedAcrossSectionsAndPlugins() {
        var c = PipelineConfig()
        c.universe.minHistorySessions = 0
        c.detectors = [PluginConfig(name: "ma_crossover", params: ["fast": 50, "slow": 20]), PluginConfig(name: "cup_and_handle")]
        c.strategy = PluginConfig(name: "bracket", params: ["id": "Demo Strategy"])
        #expect(
            c.problems() == [
                "strategy.universe.min_history_sessions must be between 1 and 100000 (got 0)",
                "detector ma_crossover: fast must be below slow (got fast 50, slow 20)",
                "unknown detector 'cup_and_handle' (known: ma_crossover, platform_breakout)",
                "strategy bracket: id must be 1 to 32 lowercase letters, digits, _ or - (got 'Demo Strategy')",
            ])
        let result = PipelineRun(config: c).scan(Market.input)
        #expect(result.configProblems.count == 4)
        #expect(result.intents.isEmpty && result.universe.considered == 0)
    }
}

@Suite struct PluginLifecycle {
    func run(_ params: PluginParameters) -> (ScanResult, [String]) {
        let log = LifecycleLog()
        var registry = PluginRegistry.builtIn
        registry.register(detector: "recorder") { RecordingDetector(log: log) }
        var config = Market.config
        config.detectors = [PluginConfig(name: "recorder", params: params)]
        return (PipelineRun(config: config, registry: registry).scan(Market.input), log.all)
    }

    @Test func pluginsGoThroughInitValidateExecuteCleanupInOrder() {
        let (result, log) = run([:])
        #expect(result.configProblems == [])
        #expect(log == ["init", "validate", "execute AAPL", "execute MSFT", "execute NVDA", "execute TSLA", "cleanup"])
    }

    @Test func aFailedValidationStopsBeforeExecuteButStillCleansUp() {
        let (result, log) = run(["mode": "broken"])
        #expect(log == ["init", "validate", "cleanup"])
        #expect(result.configProblems == ["detector recorder: mode must be one of ok (got 'broken')"])
        #expect(result.intents.isEmpty)
    }

    @Test func userPluginsNeedOnlyARegistration() {
        var registry = PluginRegistry.builtIn
        registry.register(detector: "recorder") { RecordingDetector(log: LifecycleLog()) }
        #expect(registry.detectorNames == ["ma_crossover", "platform_breakout", "recorder"])
        #expect(registry.strategyNames == ["bracket"])
    }
}

@Suite struct TradingModes {
    @Test(arguments: [TradingMode.dryRun, .paper])
    func dryRunAndPaperNeedNothing(mode: TradingMode) {
        #expect(ModeCheck.validate(mode: mode, liveEnabled: false, hasBrokerCredentials: false) == .success(mode))
    }

    @Test func liveNeedsTheExplicitSwitchAndCredentials() {
        #expect(ModeCheck.validate(mode: .live, liveEnabled: true, hasBrokerCredentials: true) == .success(.live))
        guard case .failure(let noSwitch) = ModeCheck.validate(mode: .live, liveEnabled: false, hasBrokerCredentials: true),
            case .failure(let noCreds) = ModeCheck.validate(mode: .live, liveEnabled: true, hasBrokerCredentials: false),
            case .failure(let neither) = ModeCheck.validate(mode: .live, liveEnabled: false, hasBrokerCredentials: false)
        else {
            Issue.record("LIVE was not refused")
            return
        }
        #expect(noSwitch.reasons.count == 1 && noSwitch.reasons[0].hasPrefix("live trading is not enabled"))
        #expect(noCreds.reasons.count == 1 && noCreds.reasons[0].hasPrefix("no broker credentials"))
        #expect(neither.reasons.count == 2)
        #expect(neither.description.hasPrefix("mode LIVE refused: live trading is not enabled"))
    }

    @Test func onlyDryRunKeepsOrdersInsideTheRiskGate() throws {
        #expect(TradingMode.allCases.map(\.ordersLeaveRiskGate) == [false, true, true])
        #expect(try JSONDecoder().decode([TradingMode].self, from: Data(#"["DRY_RUN","PAPER","LIVE"]"#.utf8)) == [.dryRun, .paper, .live])
    }
}
