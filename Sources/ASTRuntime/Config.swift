import ASTPaperBroker
import ASTProcessKit
import ASTStrategy
import Logging

/// The configuration every AST process loads at start (`etc/ast.yaml` and its layers).
///
/// Each key's value, with a comment on what it does, lives in `etc/ast.yaml`; these types only
/// say what shape and range a value must have. A later milestone adds a section by adding a
/// struct and a property here, and the key with its value to `etc/ast.yaml`.
public struct ASTConfig: ConfigSection, Equatable {
    /// Which kind of deployment this is.
    public var environment: DeploymentEnvironment
    /// Where sockets are created when systemd does not hand them over.
    public var runtimeDir: String
    /// Where journals live: `<state_dir>/journal/<role>@<instance>.sqlite`.
    public var stateDir: String
    /// How much is logged.
    public var logging: LoggingConfig
    /// Framing limits, peers allowed and timers of the message bus.
    public var bus: BusConfig
    /// Batching of journal writes.
    public var journal: JournalConfig
    /// The secrets file read when `$CREDENTIALS_DIRECTORY` is not set (see `SecretStore`).
    public var secretsFile: String
    /// astd's children and restart policy.
    public var supervisor: SupervisorConfig
    /// The risk gate's limits and the broker it sends approved orders to.
    public var risk: RiskConfig
    /// Where the trading processes take the time from; ``ClockConfig/wall`` when absent.
    public var clock: ClockConfig?
    /// DRY_RUN, PAPER or LIVE; ``TradingConfig/paper`` when absent.
    public var trading: TradingConfig?
    /// The daily pipeline of ast-strategy; its defaults when absent.
    public var strategy: PipelineConfig?
    /// Where bars come from and what the replay plays; ``MarketDataConfig/standard`` when absent.
    public var marketdata: MarketDataConfig?
    /// The simulated exchange of `broker@paper`; ``PaperBrokerConfig/standard`` when absent.
    public var paperBroker: PaperBrokerConfig?
    /// How ast-notifier delivers alerts (Telegram); ``NotifierConfig/shipped`` when absent.
    public var notifier: NotifierConfig?

    /// Creates a configuration from values; processes load theirs with `ConfigLoader`.
    public init(
        environment: DeploymentEnvironment, runtimeDir: String, stateDir: String, logging: LoggingConfig,
        bus: BusConfig, journal: JournalConfig, secretsFile: String, supervisor: SupervisorConfig, risk: RiskConfig,
        clock: ClockConfig? = nil, paperBroker: PaperBrokerConfig? = nil, notifier: NotifierConfig? = nil
    ) {
        self.clock = clock
        self.environment = environment
        self.runtimeDir = runtimeDir
        self.stateDir = stateDir
        self.logging = logging
        self.bus = bus
        self.journal = journal
        self.secretsFile = secretsFile
        self.supervisor = supervisor
        self.risk = risk
        self.paperBroker = paperBroker
        self.notifier = notifier
    }

    enum CodingKeys: String, CodingKey {
        case environment
        case runtimeDir = "runtime_dir"
        case stateDir = "state_dir"
        case logging
        case bus
        case journal
        case secretsFile = "secrets_file"
        case supervisor
        case risk
        case clock, trading, strategy, marketdata
        case paperBroker = "paper_broker"
        case notifier
    }

    /// Longest `runtime_dir` accepted, in bytes (``TreeConfig/maximumRuntimeDirBytes``).
    public static let maximumRuntimeDirBytes = TreeConfig.maximumRuntimeDirBytes

    /// The part every process shares and astd reads (``TreeConfig``).
    public var tree: TreeConfig {
        TreeConfig(
            environment: environment, runtimeDir: runtimeDir, stateDir: stateDir, logging: logging, bus: bus, journal: journal,
            secretsFile: secretsFile, supervisor: supervisor, trading: trading)
    }

    public func validate(_ v: inout ConfigValidator) {
        // The tree's sections and rules, exactly as astd checks them; then the domains'.
        tree.validate(&v)
        v.section(risk, key: CodingKeys.risk)
        if let paperBroker { v.section(paperBroker, key: CodingKeys.paperBroker) }
        if let clock { v.section(clock, key: CodingKeys.clock) }
        if let strategy { v.section(strategy, key: CodingKeys.strategy) }
        if let marketdata { v.section(marketdata, key: CodingKeys.marketdata) }
        if let notifier { v.section(notifier, key: CodingKeys.notifier) }
        validateAcrossSections(&v)
    }

    /// Rules that tie sections together, checked at load so that astd refuses (exit 78) before
    /// it starts anything rather than a child failing after restarts.
    func validateAcrossSections(_ v: inout ConfigValidator) {
        let children = supervisor.children.map(\.name)
        // A risk gate whose broker is not in the tree would approve orders nobody executes.
        if children.contains(where: { $0.hasPrefix("risk@") }) {
            v.check(
                children.contains(risk.broker), keyPath: ["risk", "broker"], related: [["supervisor", "children"]],
                must: "name one of supervisor.children (\(children.joined(separator: ", ")))", got: risk.broker)
        }
        if environment == .production {
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
