import ASTPaperBroker
import ASTProcessKit
import ASTStrategy
import Logging

/// The configuration every AST process loads at start (`etc/ast.yaml` and its layers): the
/// tree's part (``TreeConfig``, what astd reads too) and the sections of each domain.
///
/// Each key's value, with a comment on what it does, lives in `etc/ast.yaml`; these types only
/// say what shape and range a value must have. A later milestone adds a section by adding a
/// struct and a property here, and the key with its value to `etc/ast.yaml`. The tree's fields
/// read as the configuration's own (`config.runtimeDir` is `config.tree.runtimeDir`).
@dynamicMemberLookup
public struct ASTConfig: ConfigSection, Equatable {
    /// The part every process shares and astd reads: environment, directories, logging, bus,
    /// journal, secrets file, supervisor and trading mode.
    public var tree: TreeConfig
    /// The risk gate's limits and the broker it sends approved orders to.
    public var risk: RiskConfig
    /// Where the trading processes take the time from; ``ClockConfig/wall`` when absent.
    public var clock: ClockConfig?
    /// The daily pipeline of ast-strategy; its defaults when absent.
    public var strategy: PipelineConfig?
    /// Where bars come from and what the replay plays; ``MarketDataConfig/standard`` when absent.
    public var marketdata: MarketDataConfig?
    /// The simulated exchange of `broker@paper`; ``PaperBrokerConfig/standard`` when absent.
    public var paperBroker: PaperBrokerConfig?
    /// How ast-notifier delivers alerts (Telegram); ``NotifierConfig/shipped`` when absent.
    public var notifier: NotifierConfig?
    /// Where `broker@ibkr` reaches TWS or IB Gateway; ``IBKRConfig/standard`` when absent.
    public var ibkr: IBKRConfig?
    /// Where `broker@alpaca` reaches Alpaca; ``AlpacaConfig/standard`` (paper) when absent.
    public var alpaca: AlpacaConfig?
    /// Where ast-web, the dashboard, listens; ``WebConfig/standard`` when absent.
    public var web: WebConfig?

    /// A field of the tree's part, read and written through the whole configuration.
    public subscript<T>(dynamicMember field: WritableKeyPath<TreeConfig, T>) -> T {
        get { tree[keyPath: field] }
        set { tree[keyPath: field] = newValue }
    }

    /// Creates a configuration from values; processes load theirs with `ConfigLoader`.
    public init(
        environment: DeploymentEnvironment, runtimeDir: String, stateDir: String, logging: LoggingConfig,
        bus: BusConfig, journal: JournalConfig, secretsFile: String, supervisor: SupervisorConfig, risk: RiskConfig,
        clock: ClockConfig? = nil, paperBroker: PaperBrokerConfig? = nil, notifier: NotifierConfig? = nil
    ) {
        tree = TreeConfig(
            environment: environment, runtimeDir: runtimeDir, stateDir: stateDir, logging: logging, bus: bus, journal: journal,
            secretsFile: secretsFile, supervisor: supervisor, trading: nil)
        self.clock = clock
        self.risk = risk
        self.paperBroker = paperBroker
        self.notifier = notifier
    }

    enum CodingKeys: String, CodingKey {
        case risk, clock, strategy, marketdata
        case paperBroker = "paper_broker"
        case notifier
        case ibkr
        case alpaca
        case web
    }

    /// The tree's keys as ``TreeConfig`` decodes them (the same file, one definition), then the domains'.
    public init(from decoder: any Decoder) throws {
        tree = try TreeConfig(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func section<T: Decodable>(_ key: CodingKeys) throws -> T? { try c.decodeIfPresent(T.self, forKey: key) }
        risk = try c.decode(RiskConfig.self, forKey: .risk)
        (clock, strategy, marketdata) = (try section(.clock), try section(.strategy), try section(.marketdata))
        (paperBroker, notifier, ibkr) = (try section(.paperBroker), try section(.notifier), try section(.ibkr))
        alpaca = try section(.alpaca)
        web = try section(.web)
    }

    /// Longest `runtime_dir` accepted, in bytes (``TreeConfig/maximumRuntimeDirBytes``).
    public static let maximumRuntimeDirBytes = TreeConfig.maximumRuntimeDirBytes

    public func validate(_ v: inout ConfigValidator) {
        // The tree's sections and rules, exactly as astd checks them; then the domains'.
        tree.validate(&v)
        v.section(risk, key: CodingKeys.risk)
        if let paperBroker { v.section(paperBroker, key: CodingKeys.paperBroker) }
        if let clock { v.section(clock, key: CodingKeys.clock) }
        if let strategy { v.section(strategy, key: CodingKeys.strategy) }
        if let marketdata { v.section(marketdata, key: CodingKeys.marketdata) }
        if let notifier { v.section(notifier, key: CodingKeys.notifier) }
        if let ibkr { v.section(ibkr, key: CodingKeys.ibkr) }
        if let alpaca { v.section(alpaca, key: CodingKeys.alpaca) }
        if let web { v.section(web, key: CodingKeys.web) }
        validateAcrossSections(&v)
    }

    /// Rules that tie sections together, checked at load so that astd refuses (exit 78) before
    /// it starts anything rather than a child failing after restarts.
    func validateAcrossSections(_ v: inout ConfigValidator) {
        let children = tree.supervisor.children.map(\.name)
        // A risk gate whose broker is not in the tree would approve orders nobody executes.
        if children.contains(where: { $0.hasPrefix("risk@") }) {
            v.check(
                children.contains(risk.broker), keyPath: ["risk", "broker"], related: [["supervisor", "children"]],
                must: "name one of supervisor.children (\(children.joined(separator: ", ")))", got: risk.broker)
        }
        if tree.environment == .production {
            // Fictional tickers in a production store, or a clock that is not the system's, would
            // trade on something that is not the market.
            let source = marketdataInEffect.source
            v.check(
                source != .bundled, keyPath: ["marketdata", "source"], related: [["environment"]],
                must: "not be bundled in production (the generated data set is fictional; use polygon)", got: source.rawValue)
            v.check(
                (clock?.offsetSeconds ?? 0) == 0, keyPath: ["clock", "offset_seconds"], related: [["environment"]],
                must: "be 0 in production", got: clock?.offsetSeconds ?? 0)
            v.check(
                (clock?.rate ?? 1) == 1, keyPath: ["clock", "rate"], related: [["environment"]],
                must: "be 1 in production (a faster clock is for chaos runs)", got: clock?.rate ?? 1)
        }
    }
}
