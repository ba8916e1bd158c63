import ASTCore
import ASTStrategy

/// The refusal of a `strategy.exits` rule the tree cannot run yet: `time_stop`, `trailing_stop`
/// and `staged_take_profit` read each holding's entry (session, shares, initial stop), which the
/// backtest engine records from its fills (`ScanInput.holdings`) but ast-strategy does not have;
/// in the tree they would always hold while the backtest acts on them. ast-strategy (and so
/// astd's `--check-config` of it) refuses such a file at start (exit 78); `ast backtest` accepts it.
public struct BacktestOnlyExitRules: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rules that need the entry records.
    public static let names: [String] = [TimeStopExit.pluginName, TrailingStopExit.pluginName, StagedTakeProfitExit.pluginName]

    /// The configured ones among ``names``, in configuration order.
    public var rules: [String]

    public init(rules: [String]) { self.rules = rules }

    /// The refusal for `config`'s strategy section, nil when it configures none of ``names``.
    public static func refusal(_ config: ASTConfig) -> BacktestOnlyExitRules? {
        // The base's exits and every regime overlay's (an overlay must not slip one in).
        let all = config.strategy.map { c in [c.exits] + MarketRegime.allCases.compactMap { c.regimeOverrides[$0]?.exits } } ?? []
        var rules: [String] = []
        for name in all.joined().map(\.name) where names.contains(name) && !rules.contains(name) { rules.append(name) }
        return rules.isEmpty ? nil : BacktestOnlyExitRules(rules: rules)
    }

    public var description: String {
        "strategy.exits: \(rules.joined(separator: ", ")) \(rules.count == 1 ? "is" : "are") backtest-only for now "
            + "(ast-strategy does not keep the entry records these rules read, so in the tree they would never act; "
            + "the tree runs stop_loss and take_profit)"
    }
}
