import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMessages

/// Position rotation (`strategy.rotation`): a plugin (``PipelinePlugin``: init -> validate ->
/// execute -> cleanup) that, when the book is full, replaces the weakest holding by a stronger
/// candidate in the same 09:00 scan.
///
/// Strength is one score for holdings and candidates alike, from the bars before the session
/// only: the rate of change over `score_period` sessions, (C / the close `score_period` bars
/// before − 1) × 100. The scan's entries beyond the free slots (`max_positions` − held longs −
/// working entries) are withdrawn, the strongest kept (`BOOK_FULL` in the skips); the book is
/// then full when held longs + working entries + the entries kept reach `max_positions`; a
/// candidate the sizer gave no shares (the cash or the exposure room is used up) also counts as
/// facing a full book. Then the strongest candidate without an intent
/// (score descending, then symbol) is set against the weakest holding (score ascending, then
/// symbol) held at least `min_sessions_held` sessions and not closed by an exit rule this scan:
/// when its score exceeds the holding's by at least `min_score_advantage` points, the holding is
/// sold whole by a reduce-only market intent `<date>.exit-rotation.<symbol>` and the candidate is
/// sized (by the one entry path, ``StrategyEngine/entry(_:strategy:sizer:equity:cash:allocation:date:now:)``)
/// with the sale's value at the last close added to the cash and its slot freed; a candidate that
/// still gets no shares is passed over. At most `max_per_session` swaps per scan. Both intents go
/// to the risk gate like every other. Defaults: disabled, 5 positions, ROC 20, 5 points, 1 swap,
/// 1 session held.
public struct RotationRule: PipelinePlugin {
    public static let pluginName = "rotation"
    public var name: String { Self.pluginName }
    public private(set) var enabled = false
    public private(set) var maxPositions = 5
    public private(set) var minScoreAdvantage = 5.0
    public private(set) var maxPerSession = 1
    public private(set) var scorePeriod = 20
    public private(set) var minSessionsHeld = 1
    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "strategy.rotation", parameters)
        enabled = r.bool("enabled", default: false)
        maxPositions = r.int("max_positions", default: 5, in: 1...10_000)
        minScoreAdvantage = r.double("min_score_advantage", default: 5, in: 0...100_000)
        maxPerSession = r.int("max_per_session", default: 1, in: 1...100)
        scorePeriod = r.int("score_period", default: 20, in: 1...IndicatorSpec.maximumPeriod)
        minSessionsHeld = r.int("min_sessions_held", default: 1, in: 0...1_000)
        try r.finish()
    }

    /// The score of a symbol's bars (before the session): ROC(`score_period`) in percent; nil
    /// without `score_period` + 1 bars or with a base close that is not positive.
    public func score(_ bars: ArraySlice<Bar>) -> Double? {
        guard bars.count > scorePeriod, let last = bars.last else { return nil }
        let base = bars[bars.endIndex - 1 - scorePeriod].close.units
        guard base > 0 else { return nil }
        return (Double(last.close.units) / Double(base) - 1) * 100
    }

    /// A symbol as rotation ranks it.
    public struct Ranked: Sendable, Equatable {
        public var symbol: Symbol
        public var score: Double
        public init(symbol: Symbol, score: Double) {
            self.symbol = symbol
            self.score = score
        }
    }

    /// One swap: `sell` out, `buy` in.
    public struct Swap: Sendable, Equatable {
        public var sell: Ranked
        public var buy: Ranked
    }

    /// The swaps: the strongest `contenders` against the weakest `holdings`, while the advantage
    /// holds and fewer than `max_per_session` were made. `accept(buy, sell)` says whether the
    /// candidate could be bought in the holding's place (a refused candidate is passed over, the
    /// holding stays for the next). Deterministic: ties by symbol.
    public func swaps(holdings: [Ranked], contenders: [Ranked], accept: (Ranked, Ranked) -> Bool) -> [Swap] {
        let weakest = holdings.sorted { ($0.score, $0.symbol) < ($1.score, $1.symbol) }
        let strongest = contenders.sorted { $0.score != $1.score ? $0.score > $1.score : $0.symbol < $1.symbol }
        var out: [Swap] = []
        var h = 0
        for c in strongest {
            guard out.count < maxPerSession, h < weakest.count else { break }
            let w = weakest[h]
            // Contenders come strongest first: when this one does not beat the weakest, none will.
            guard c.score > w.score, c.score - w.score >= minScoreAdvantage else { break }
            if accept(c, w) {
                out.append(Swap(sell: w, buy: c))
                h += 1
            }
        }
        return out
    }
}

/// What rotation added to one scan.
struct RotationOutcome {
    var intents: [IntentGroup] = []
    var rationales: [IntentRationale] = []
    var sizing: [SizingDetail] = []
    /// The candidates bought (their earlier skips and zero-share sizings are replaced).
    var bought: Set<Symbol> = []
    /// The strategy engine's entries withdrawn for want of a free slot (each then a contender).
    var withdrawn: Set<Symbol> = []
}

extension PipelineRun {
    /// The rotation of the scan of `input.date` (see ``RotationRule``): `survivors` are the
    /// candidates that reached the strategy engine, `output` what it made of them, `exiting` the
    /// symbols an exit rule closes this scan, `contexts` the held symbols' contexts.
    func rotation(
        _ input: ScanInput, rule: RotationRule, strategy: any Strategy, sizer: PositionSizer, survivors: [StrategyEngine.Input],
        output: StrategyOutput, exiting: Set<Symbol>, contexts: [Symbol: SymbolContext]
    ) -> RotationOutcome {
        var result = RotationOutcome()
        guard rule.enabled else { return result }
        let portfolio = input.portfolio
        let held = portfolio.positions.filter { $0.value.quantity > .zero }
        var firsts: [Symbol: StrategyEngine.Input] = [:]
        for s in survivors where firsts[s.candidate.symbol].map({ s.detectorRank < $0.detectorRank }) ?? true {
            firsts[s.candidate.symbol] = s
        }
        // The entries beyond the free slots are withdrawn, the weakest first (ties: the later symbol).
        let free = max(0, rule.maxPositions - held.count - max(portfolio.openOrders, 0))
        var entered = Set(output.intents.map(\.symbol))
        if output.intents.count > free {
            let ranked = output.intents.map {
                RotationRule.Ranked(symbol: $0.symbol, score: firsts[$0.symbol].flatMap { rule.score($0.context.bars) } ?? -.infinity)
            }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.symbol < $1.symbol }
            result.withdrawn = Set(ranked.dropFirst(free).map(\.symbol))
            entered.subtract(result.withdrawn)
        }
        let full = held.count + max(portfolio.openOrders, 0) + entered.count >= rule.maxPositions
        let zeroShares = Set(output.skipped.filter { $0.code == "ZERO_SHARES" }.map(\.symbol))
        // Contenders: each symbol's first candidate (the detectors' order) without an intent.
        var contenders: [RotationRule.Ranked] = []
        for (symbol, s) in firsts.sorted(by: { $0.key < $1.key }) {
            guard !entered.contains(symbol), held[symbol] == nil, full || zeroShares.contains(symbol),
                let score = rule.score(s.context.bars)
            else { continue }
            contenders.append(.init(symbol: symbol, score: score))
        }
        guard !contenders.isEmpty, !held.isEmpty else { return result }
        var holdings: [RotationRule.Ranked] = []
        for (symbol, _) in held.sorted(by: { $0.key < $1.key }) {
            guard !exiting.contains(symbol), let h = input.holdings[symbol], h.sessionsHeld >= rule.minSessionsHeld,
                let context = contexts[symbol], context.lastClose != nil, let score = rule.score(context.bars)
            else { continue }
            holdings.append(.init(symbol: symbol, score: score))
        }
        // The account after the strategy engine's intents, then after each swap.
        var allocation = AllocationContext(portfolio: portfolio)
        var cash = sizer.config.spendable(cash: portfolio.cash, equity: portfolio.equity, exposure: allocation.exposure)
        for d in output.sizing where !d.shares.isZero && entered.contains(d.symbol) {
            cash = cash - d.notional
            allocation.commit(d.notional)
        }
        let swaps = rule.swaps(holdings: holdings, contenders: contenders) { buy, sell in
            guard let position = held[sell.symbol], let close = contexts[sell.symbol]?.lastClose,
                let freed = try? close.notional(position.quantity), let candidate = firsts[buy.symbol]
            else { return false }
            var room = allocation
            room.exposure = max(room.exposure - freed, .zero)
            room.openPositions = max(room.openPositions - 1, 0)
            let made = StrategyEngine.entry(
                candidate, strategy: strategy, sizer: sizer, equity: portfolio.equity, cash: cash + freed, allocation: room,
                date: input.date, now: input.now)
            guard case .intent(let intent, let rationale) = made.outcome, let sizing = made.sizing,
                let exitID = IntentID(validating: "\(input.date).\(ExitIntents.prefix)\(RotationRule.pluginName).\(sell.symbol.rawValue)")
            else { return false }
            cash = cash + freed - sizing.notional
            allocation = room
            allocation.commit(sizing.notional)
            let why =
                "ROC\(rule.scorePeriod) \(f(buy.score))% beats \(sell.symbol)'s \(f(sell.score))% by at least \(f(rule.minScoreAdvantage)) points"
            result.intents.append(intent)
            result.rationales.append(
                IntentRationale(
                    intent: rationale.intent, detector: rationale.detector,
                    rationale: "rotation in for \(sell.symbol) (\(why)); \(rationale.rationale)"))
            result.sizing.append(sizing)
            result.intents.append(
                IntentGroup(
                    id: exitID, symbol: sell.symbol, sector: contexts[sell.symbol]?.info.sector ?? position.sector, side: .sell,
                    quantity: position.quantity, entry: .market, stopLoss: nil, takeProfit: nil, createdAt: intent.createdAt))
            result.rationales.append(
                IntentRationale(
                    intent: exitID, detector: "exit \(RotationRule.pluginName)",
                    rationale: "rotated out for \(buy.symbol): \(why)"))
            result.bought.insert(buy.symbol)
            return true
        }
        _ = swaps
        return result
    }
}
