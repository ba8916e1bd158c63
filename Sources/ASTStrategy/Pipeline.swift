import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMessages

/// A plugin as the configuration selects it: its registered name and its parameters.
public struct PluginConfig: Sendable, Equatable, Codable {
    public var name: String
    public var params: PluginParameters

    public init(name: String, params: PluginParameters = [:]) {
        self.name = name
        self.params = params
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, params }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: "strategy plugin")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        params = try c.value(.params, default: [:])
    }
}

/// The whole strategy pipeline's configuration (the `strategy:` section of etc/ast.yaml).
/// Codable with snake_case keys; every key has a default.
public struct PipelineConfig: Sendable, Equatable, Codable {
    public var universe = UniverseConfig()
    public var regime = RegimeConfig()
    /// The active detectors, in the order their candidates are preferred for the same symbol.
    public var detectors: [PluginConfig] = [PluginConfig(name: MACrossoverDetector.pluginName)]
    public var filters = FilterChainConfig()
    public var eventGuard = EventGuardConfig()
    public var strategy = PluginConfig(name: BracketStrategy.pluginName)
    public var sizing = SizingConfig()
    /// The exit rules (``ExitRule``) reviewing every held position at the scan; none by default.
    public var exits: [PluginConfig] = []
    /// Per-regime overlays (``RegimeOverlay``): what changes while the classifier reports a
    /// regime; none by default.
    public var regimeOverrides: [MarketRegime: RegimeOverlay] = [:]
    /// Position rotation's parameters (``RotationRule``); empty (the default): no rotation.
    public var rotation: PluginParameters = [:]

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case universe, regime, detectors, filters, strategy, sizing, exits, rotation
        case eventGuard = "event_guard"
        case regimeOverrides = "regime_overrides"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(universe, forKey: .universe)
        try c.encode(regime, forKey: .regime)
        try c.encode(detectors, forKey: .detectors)
        try c.encode(filters, forKey: .filters)
        try c.encode(strategy, forKey: .strategy)
        try c.encode(sizing, forKey: .sizing)
        try c.encode(eventGuard, forKey: .eventGuard)  // the synthesized order, kept
        // Only when configured: a configuration without exits encodes as before.
        if !exits.isEmpty { try c.encode(exits, forKey: .exits) }
        if !rotation.values.isEmpty { try c.encode(rotation, forKey: .rotation) }
        if !regimeOverrides.isEmpty {
            var o = c.nestedContainer(keyedBy: AnyConfigKey.self, forKey: .regimeOverrides)
            for r in overlaidRegimes { try o.encode(regimeOverrides[r], forKey: AnyConfigKey(stringValue: r.rawValue)) }
        }
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: "strategy")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PipelineConfig()
        universe = try c.value(.universe, default: d.universe)
        regime = try c.value(.regime, default: d.regime)
        detectors = try c.value(.detectors, default: d.detectors)
        filters = try c.value(.filters, default: d.filters)
        eventGuard = try c.value(.eventGuard, default: d.eventGuard)
        strategy = try c.value(.strategy, default: d.strategy)
        sizing = try c.value(.sizing, default: d.sizing)
        exits = try c.value(.exits, default: d.exits)
        rotation = try c.value(.rotation, default: d.rotation)
        if c.contains(.regimeOverrides) {
            regimeOverrides = try Self.decodeOverrides(c.superDecoder(forKey: .regimeOverrides), over: self)
        }
    }

    /// Every problem of the values and of the plugins' parameters (each named plugin is made,
    /// validated and cleaned up); empty when the pipeline can run.
    public func problems(registry: PluginRegistry = .builtIn) -> [String] {
        let p = PluginSet.make(self, registry: registry)
        p.cleanup()
        return p.problems
    }

    func valueProblems() -> [String] {
        var p = universe.problems() + regime.problems() + filters.problems() + eventGuard.problems() + sizing.problems()
        if detectors.isEmpty { p.append("strategy.detectors must name at least one detector") }
        let names = detectors.map(\.name)
        for (i, n) in names.enumerated() where names[..<i].contains(n) {
            p.append("strategy.detectors names '\(n)' twice")
        }
        let exitNames = exits.map(\.name)
        for (i, n) in exitNames.enumerated() where exitNames[..<i].contains(n) {
            p.append("strategy.exits names '\(n)' twice")
        }
        return p
    }
}

/// The plugins of one run, through their lifecycle.
struct PluginSet {
    var detectors: [any PatternDetector] = []
    var strategy: (any Strategy)?
    var exits: [any ExitRule] = []
    /// Validated; disabled unless `strategy.rotation` enables it.
    var rotation = RotationRule()
    var problems: [String] = []

    static func make(_ config: PipelineConfig, registry: PluginRegistry) -> PluginSet {
        var set = PluginSet()
        set.problems = config.valueProblems()
        for dc in config.detectors {
            guard var d = registry.makeDetector(dc.name) else {
                set.problems.append("unknown detector '\(dc.name)' (known: \(registry.detectorNames.joined(separator: ", ")))")
                continue
            }
            do {
                try d.validate(dc.params)
            } catch {
                set.problems.append(contentsOf: error.problems.map { "\(error.plugin): \($0)" })
            }
            set.detectors.append(d)
        }
        if var s = registry.makeStrategy(config.strategy.name) {
            do {
                try s.validate(config.strategy.params)
            } catch {
                set.problems.append(contentsOf: error.problems.map { "\(error.plugin): \($0)" })
            }
            set.strategy = s
        } else {
            set.problems.append("unknown strategy '\(config.strategy.name)' (known: \(registry.strategyNames.joined(separator: ", ")))")
        }
        let exitRegistry = ExitRegistry.builtIn
        for ec in config.exits {
            guard var e = exitRegistry.make(ec.name) else {
                set.problems.append("unknown exit '\(ec.name)' (known: \(exitRegistry.names.joined(separator: ", ")))")
                continue
            }
            do {
                try e.validate(ec.params)
            } catch {
                set.problems.append(contentsOf: error.problems.map { "\(error.plugin): \($0)" })
            }
            set.exits.append(e)
        }
        if !config.rotation.values.isEmpty {
            do {
                try set.rotation.validate(config.rotation)
            } catch {
                set.problems.append(contentsOf: error.problems.map { "\(error.plugin): \($0)" })
            }
        }
        // Each overlay's effective configuration is validated exactly as the base: a regime
        // whose settings could not run refuses the whole configuration at start.
        for regime in config.overlaidRegimes {
            let overlaid = PluginSet.make(config.effective(for: regime), registry: registry)
            overlaid.cleanup()
            for problem in overlaid.problems where !set.problems.contains(problem) {
                set.problems.append("strategy.regime_overrides.\(regime): \(problem)")
            }
        }
        return set
    }

    /// The lifecycle's last step, for every plugin made (validated or not).
    func cleanup() {
        for d in detectors { d.cleanup() }
        strategy?.cleanup()
        for e in exits { e.cleanup() }
        rotation.cleanup()
    }
}

/// Everything one 09:00 scan did, stage by stage: what `ast scan --date D` prints and what the
/// daily report lists. Codable with stable snake_case keys; every array is sorted.
public struct ScanResult: Sendable, Equatable, Codable {
    public var date: LocalDate
    public var createdAt: Timestamp
    public var tradingDay: Bool
    /// The session whose bars the scan reads (the last one before ``date``).
    public var previousSession: LocalDate?
    /// Configuration problems; when not empty, nothing else ran and there are no intents.
    public var configProblems: [String] = []
    /// Remarks about the run (`not a trading day`).
    public var notes: [String] = []
    public var universe = UniverseResult()
    public var regime = RegimeAssessment(regime: .undetermined, reasons: [])
    /// Every indicator node computed per bar for each symbol, in evaluation order.
    public var indicatorPlan: [String] = []
    /// One entry per configured detector, in configuration order, candidates sorted by symbol.
    public var candidates: [DetectorCandidates] = []
    /// Sorted by symbol, then detector.
    public var filteredOut: [FilterRejection] = []
    /// Sorted by symbol, detector, then event.
    public var eventBlocks: [EventBlock] = []
    /// The intent groups for the risk gate, sorted by id.
    public var intents: [IntentGroup] = []
    public var rationales: [IntentRationale] = []
    public var sizing: [SizingDetail] = []
    public var skipped: [StrategySkip] = []

    public init(date: LocalDate, createdAt: Timestamp, tradingDay: Bool, previousSession: LocalDate?) {
        self.date = date
        self.createdAt = createdAt
        self.tradingDay = tradingDay
        self.previousSession = previousSession
    }

    enum CodingKeys: String, CodingKey {
        case date, notes, universe, regime, candidates, intents, rationales, sizing, skipped
        case createdAt = "created_at"
        case tradingDay = "trading_day"
        case previousSession = "previous_session"
        case configProblems = "config_problems"
        case indicatorPlan = "indicator_plan"
        case filteredOut = "filtered_out"
        case eventBlocks = "event_blocks"
    }
}

/// The whole pre-market pipeline as one pure function: universe filter -> market regime ->
/// scanner (detectors, filter chain) -> event guard -> strategy engine -> intent groups for the
/// risk gate.
///
/// Per symbol the indicators of one shared ``IndicatorPlan`` (the union of what the active
/// detectors, filters and strategy declare) come carried from the previous scan
/// (``ScanInput/indicators``: O(1) per new bar) or, without them, from one pass over the bars
/// given (O(bars)); then constant work per detector over its declared lookback. Nothing is kept of a symbol without a
/// candidate. Deterministic: the same inputs give the same ``ScanResult``.
public struct PipelineRun: Sendable {
    public let config: PipelineConfig
    public let registry: PluginRegistry
    public let calendar: TradingCalendar
    /// Filters run after the configured chain (a user's own).
    public let extraFilters: [any CandidateFilter]

    public init(
        config: PipelineConfig = PipelineConfig(), registry: PluginRegistry = .builtIn, calendar: TradingCalendar = .nyse,
        extraFilters: [any CandidateFilter] = []
    ) {
        self.config = config
        self.registry = registry
        self.calendar = calendar
        self.extraFilters = extraFilters
    }

    /// The indicators the active plugins need and their lookback (nil when the configuration
    /// is refused): what a caller carries from scan to scan (``ScanInput/indicators``).
    public func scanIndicators() -> ScanIndicators? {
        let plugins = PluginSet.make(config, registry: registry)
        defer { plugins.cleanup() }
        guard plugins.problems.isEmpty, let strategy = plugins.strategy else { return nil }
        let setup = indicatorSetup(plugins, strategy: strategy, config: config)
        return ScanIndicators(plan: setup.plan, lookback: setup.lookback)
    }

    /// The plan and lookback of the base's plugins (`plugins`, `strategy`) and, with regime
    /// overlays, of every overlay's after them, in that fixed order: so that the plan is the same
    /// whichever regime a scan finds, and indicators carried from scan to scan serve it. The
    /// filters returned are those of `config`, the configuration in effect.
    func indicatorSetup(_ plugins: PluginSet, strategy: any Strategy, config: PipelineConfig) -> (
        plan: IndicatorPlan, lookback: Int, filters: [any CandidateFilter]
    ) {
        func specs(_ plugins: PluginSet, _ strategy: (any Strategy)?, _ filters: [any CandidateFilter]) -> [IndicatorSpec] {
            plugins.detectors.flatMap(\.indicators) + filters.flatMap(\.indicators) + (strategy?.indicators ?? [])
                + plugins.exits.flatMap(\.indicators)
        }
        let filters = config.filters.makeFilters() + extraFilters
        var all = specs(plugins, strategy, self.config.filters.makeFilters() + extraFilters)
        var lookback = max(2, plugins.detectors.map(\.lookback).max() ?? 1)
        for regime in self.config.overlaidRegimes {
            let overlaid = PluginSet.make(self.config.effective(for: regime), registry: registry)
            defer { overlaid.cleanup() }
            all += specs(overlaid, overlaid.strategy, self.config.effective(for: regime).filters.makeFilters() + extraFilters)
            lookback = max(lookback, overlaid.detectors.map(\.lookback).max() ?? 1)
        }
        return (IndicatorPlan(all), lookback, filters)
    }

    /// Runs the scan for `input.date`. Plugins go through init -> validate -> execute -> cleanup;
    /// a configuration problem stops the run before any plugin executes.
    public func scan(_ input: ScanInput) -> ScanResult {
        let date = input.date
        let previous = previousSession(before: date, calendar: calendar)
        var result = ScanResult(date: date, createdAt: input.now, tradingDay: calendar.isTradingDay(date), previousSession: previous)
        let base = PluginSet.make(self.config, registry: registry)
        defer { base.cleanup() }
        guard base.problems.isEmpty, let baseStrategy = base.strategy else {
            result.configProblems = base.problems
            result.notes.append("configuration refused: no scan, no intents")
            return result
        }
        guard result.tradingDay else {
            result.notes.append("\(date) is not an NYSE trading day: no scan")
            return result
        }

        // Regime.
        result.regime = RegimeClassifier.classify(
            index: barsBefore(date, input.index), volatility: barsBefore(date, input.volatilityIndex),
            previousSession: previous, config: self.config.regime)

        // The regime's overlay, if it has one: the effective configuration and its plugins
        // (validated with the base, so they are valid here).
        let overlaid = self.config.regimeOverrides[result.regime.regime] != nil
        let config = self.config.effective(for: result.regime.regime)
        let plugins = overlaid ? PluginSet.make(config, registry: registry) : base
        defer { if overlaid { plugins.cleanup() } }
        guard plugins.problems.isEmpty, let strategy = plugins.strategy else {
            result.configProblems = plugins.problems
            result.notes.append("configuration refused: no scan, no intents")
            return result
        }
        if overlaid { result.notes.append("regime \(result.regime.regime): strategy.regime_overrides.\(result.regime.regime) in effect") }

        // Indicator plan: what the active plugins need, each once.
        let (plan, lookback, filters) = indicatorSetup(base, strategy: baseStrategy, config: config)
        let chain = FilterChain(filters)
        result.indicatorPlan = plan.computedNodes
        // Carried indicators when the caller advanced them for this plan; else over the bars given.
        let carried = input.indicators.flatMap { $0.plan == plan && $0.lookback == lookback ? $0 : nil }

        // Universe, detectors, filters, event guard, symbol by symbol in symbol order.
        let universeFilter = UniverseFilter(config: config.universe)
        // Built at the first candidate that reaches it (most scans have few or none), not for
        // every scan: it groups and sorts every event of the window.
        var guardian: EventGuard?
        // The histories in symbol order as indexes (the permutation sorting the histories
        // themselves gives), not a copy of every history at every scan.
        let universe = input.universe
        let order = universe.indices.sorted { universe[$0].info.symbol < universe[$1].info.symbol }
        // Once per scan, not per symbol: where the scan date and the previous session begin.
        let cutoff = dayStart(date)
        let previousSpan = previous.map { dayStart($0)..<dayStart($0.adding(days: 1)) }
        var perDetector = [[Candidate]](repeating: [], count: plugins.detectors.count)
        var survivors: [StrategyEngine.Input] = []
        var heldContexts: [Symbol: SymbolContext] = [:]  // for the exit rules
        result.universe.considered = universe.count
        for (i, k) in order.enumerated() {
            let history = universe[k]
            let info = history.info
            if i > 0, universe[order[i - 1]].info.symbol == info.symbol {
                result.universe.excluded.append(
                    UniverseExclusion(
                        symbol: info.symbol,
                        reasons: [.init(code: "DUPLICATE_SYMBOL", detail: "\(info.symbol) appears more than once in the universe")]))
                continue
            }
            let usable = barsBefore(start: cutoff, history.bars)
            let reasons = universeFilter.exclusions(
                info: info, bars: usable, previousSession: previous, span: previousSpan, ascending: history.ascending)
            guard reasons.isEmpty else {
                result.universe.excluded.append(UniverseExclusion(symbol: info.symbol, reasons: reasons))
                continue
            }
            result.universe.included.append(info.symbol)

            let position = input.portfolio.positions[info.symbol]
            let context =
                if let window = carried?.window(info.symbol, hint: k, lastStart: usable.last?.start) {
                    SymbolContext(
                        date: date, info: info, bars: usable, indicators: window, regime: result.regime.regime,
                        position: position)
                } else {
                    SymbolContext.build(
                        date: date, info: info, usable: usable, plan: plan, lookback: lookback, regime: result.regime.regime,
                        position: position)
                }
            if !plugins.exits.isEmpty || plugins.rotation.enabled, position.map({ $0.quantity > .zero }) ?? false {
                heldContexts[info.symbol] = context
            }
            guard let close = usable.last?.close else { continue }
            for (rank, detector) in plugins.detectors.enumerated() {
                guard let found = detector.detect(context) else { continue }
                let candidate = Candidate(
                    symbol: info.symbol, detector: detector.name, close: close, summary: found.summary,
                    metrics: found.metrics)
                perDetector[rank].append(candidate)
                if let rejection = chain.apply(candidate, context) {
                    result.filteredOut.append(rejection)
                    continue
                }
                if guardian == nil { guardian = EventGuard(events: input.events, config: config.eventGuard, calendar: calendar) }
                let blocks = guardian?.check(candidate, on: date) ?? []
                guard blocks.isEmpty else {
                    result.eventBlocks.append(contentsOf: blocks)
                    continue
                }
                survivors.append(StrategyEngine.Input(candidate: candidate, context: context, detectorRank: rank))
            }
        }
        result.candidates = zip(plugins.detectors, perDetector).map { DetectorCandidates(detector: $0.name, candidates: $1) }

        // Strategy engine -> intents for the risk gate.
        let output = StrategyEngine.run(
            strategy: strategy, inputs: survivors, sizer: PositionSizer(config: config.sizing),
            portfolio: input.portfolio, date: date, now: input.now)
        result.intents = output.intents
        result.rationales = output.rationales
        // Exit rules -> reduce-only intents for the risk gate, beside the entries.
        let exits = exitIntents(
            input, rules: plugins.exits, contexts: heldContexts, plan: plan, lookback: lookback, regime: result.regime.regime)
        result.notes += exits.notes
        if !exits.intents.isEmpty {
            result.intents = (result.intents + exits.intents).sorted { $0.id < $1.id }
            result.rationales = (result.rationales + exits.rationales).sorted { $0.intent < $1.intent }
        }
        result.sizing = output.sizing
        result.skipped = output.skipped
        // Rotation: a full book swaps its weakest holding for a stronger candidate.
        let rotated = rotation(
            input, rule: plugins.rotation, strategy: strategy, sizer: PositionSizer(config: config.sizing), survivors: survivors,
            output: output, exiting: Set(exits.intents.map(\.symbol)), contexts: heldContexts)
        if !rotated.withdrawn.isEmpty {
            // No free slot: the entry is withdrawn (it may come back below, as a swap).
            let ids = Set(result.intents.filter { $0.side == .buy && rotated.withdrawn.contains($0.symbol) }.map(\.id))
            result.intents.removeAll { ids.contains($0.id) }
            result.rationales.removeAll { ids.contains($0.intent) }
            let skips = output.intents.filter { ids.contains($0.id) }.map { i in
                StrategySkip(
                    symbol: i.symbol, detector: output.rationales.first { $0.intent == i.id }?.detector ?? "", code: "BOOK_FULL",
                    reason: "no free slot: strategy.rotation.max_positions \(plugins.rotation.maxPositions) is reached")
            }
            result.skipped = (result.skipped + skips).sorted { ($0.symbol, $0.detector) < ($1.symbol, $1.detector) }
        }
        if !rotated.intents.isEmpty {
            result.intents = (result.intents + rotated.intents).sorted { $0.id < $1.id }
            result.rationales = (result.rationales + rotated.rationales).sorted { $0.intent < $1.intent }
            result.sizing = (result.sizing.filter { !rotated.bought.contains($0.symbol) } + rotated.sizing).sorted { $0.symbol < $1.symbol }
            result.skipped.removeAll { rotated.bought.contains($0.symbol) }
        }
        return result
    }
}
