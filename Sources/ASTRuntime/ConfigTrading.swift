import ASTCalendar
import ASTStrategy

/// The `strategy:` section: the daily pipeline (universe, regime, detectors, filters, event
/// guard, strategy, sizing). Every key has a default; see etc/ast.yaml.
extension PipelineConfig: ConfigSection {
    public func validate(_ v: inout ConfigValidator) {
        for problem in problems() {
            v.check(false, key: ConfigKey("pipeline"), must: "be a pipeline that can run", got: problem)
        }
    }
}

/// The `marketdata:` section: where bars come from and, with the replay clock, which sessions
/// the replay feed plays.
public struct MarketDataConfig: ConfigSection, Equatable {
    /// `polygon` (production: with the wall clock, each session's bars fetched after the close,
    /// missed sessions backfilled at start), `bundled` (the generated data set, installed on
    /// first start; refused in production), `csv` (a directory of CSV files ingested on first
    /// start), or `store` (use the bar store as it is).
    public var source: MarketDataSource
    /// The bar store; empty means `<state_dir>/marketdata/bars.sqlite`.
    public var store: String
    /// For `source: csv`: the directory (bars/*.csv, metadata.csv, corporate_actions.csv, events.csv).
    public var csvDirectory: String
    public var replay: ReplayConfig
    /// Polygon's aggregates API for `ast ingest --polygon`; absent: ``PolygonConfig/standard``.
    public var polygon: PolygonConfig?
    /// The wall-clock feed (``ClockMode/wall``); absent: ``LiveMarketDataConfig/standard``.
    public var live: LiveMarketDataConfig?
    /// Alpaca's market-data API for `ast ingest --alpaca`; absent: ``AlpacaDataConfig/standard``.
    public var alpaca: AlpacaDataConfig?

    public init(
        source: MarketDataSource, store: String, csvDirectory: String, replay: ReplayConfig, polygon: PolygonConfig? = nil,
        live: LiveMarketDataConfig? = nil, alpaca: AlpacaDataConfig? = nil
    ) {
        self.source = source
        self.store = store
        self.csvDirectory = csvDirectory
        self.replay = replay
        self.polygon = polygon
        self.live = live
        self.alpaca = alpaca
    }

    public static let standard = MarketDataConfig(source: .bundled, store: "", csvDirectory: "", replay: .standard)
    /// What a production configuration without the section means: live data from Polygon.
    public static let standardProduction = MarketDataConfig(source: .polygon, store: "", csvDirectory: "", replay: .standard)

    enum CodingKeys: String, CodingKey {
        case source, store, replay, polygon, live, alpaca
        case csvDirectory = "csv_directory"
    }

    /// The Polygon settings in effect (the section's, or the shipped ones).
    public var polygonSettings: PolygonConfig { polygon ?? .standard }
    /// The wall-clock feed's settings in effect.
    public var liveSettings: LiveMarketDataConfig { live ?? .standard }
    /// Alpaca's market-data settings in effect.
    public var alpacaSettings: AlpacaDataConfig { alpaca ?? .standard }

    /// The bar store's path for a state directory.
    public func storePath(stateDir: String) -> String { store.isEmpty ? "\(stateDir)/marketdata/bars.sqlite" : store }

    public func validate(_ v: inout ConfigValidator) {
        v.check(
            source != .csv || !csvDirectory.isEmpty, key: CodingKeys.csvDirectory, must: "name a directory when source is csv",
            got: csvDirectory)
        v.section(replay, key: CodingKeys.replay)
        if let polygon { v.section(polygon, key: CodingKeys.polygon) }
        if let live { v.section(live, key: CodingKeys.live) }
        if let alpaca { v.section(alpaca, key: CodingKeys.alpaca) }
    }
}

/// `marketdata.alpaca`: where Alpaca's market-data API is, for `ast ingest --alpaca`. The keys are
/// the secrets `alpaca_key_id` and `alpaca_secret_key` (the ones broker@alpaca uses), never
/// configuration. The host is the same for paper and live accounts.
public struct AlpacaDataConfig: ConfigSection, Equatable {
    /// https, no trailing slash.
    public var baseURL: String
    /// `iex` (what a free plan may query for recent dates) or `sip` (every exchange; a paid plan for recent data).
    public var feed: String
    /// A PEM file of certificate authorities to trust instead of the system's (tests); empty: system roots.
    public var caFile: String

    public init(baseURL: String, feed: String = "iex", caFile: String = "") {
        self.baseURL = baseURL
        self.feed = feed
        self.caFile = caFile
    }

    /// What etc/ast.yaml ships.
    public static let standard = AlpacaDataConfig(baseURL: "https://data.alpaca.markets")

    enum CodingKeys: String, CodingKey {
        case baseURL = "base_url"
        case feed
        case caFile = "ca_file"
    }

    public func validate(_ v: inout ConfigValidator) {
        let lower = baseURL.lowercased()
        v.check(
            lower.hasPrefix("https://") && lower.count > "https://".count && !baseURL.hasSuffix("/") && baseURL.utf8.count <= 200
                && !baseURL.contains(where: { $0.isWhitespace }),
            key: CodingKeys.baseURL, must: "be an https:// URL without a trailing / (the keys travel with it)", got: baseURL)
        v.check(["iex", "sip"].contains(feed), key: CodingKeys.feed, must: "be iex or sip", got: feed)
        v.check(caFile.utf8.count <= 4096, key: CodingKeys.caFile, must: "be a path or empty", got: caFile)
    }
}

/// `marketdata.live`: how ast-marketdata keeps the store current with the wall clock
/// (``MarketDataSource/polygon``) and publishes marks at every schedule point.
public struct LiveMarketDataConfig: ConfigSection, Equatable {
    /// New York time (HH:MM) after each session's close at which its daily bars are fetched.
    public var fetchAt: String
    /// Sessions fetched into an empty store (the strategy needs 250 for its history).
    public var initialSessions: Int
    /// Seconds between attempts after a failed fetch.
    public var retrySeconds: Int
    /// A day with fewer bars than this is refused as incomplete.
    public var minBarsPerDay: Int
    /// `strict` (any bad bar refuses the day, as `ast ingest`) or `lenient` (bad bars dropped).
    public var validation: String
    /// Only symbols whose last close × volume reaches this many dollars get marks.
    public var markMinDollarVolume: Int64
    /// Regime inputs, sectors and marks (``LiveInputsConfig``); absent: ``LiveInputsConfig/standard``.
    public var inputs: LiveInputsConfig?

    public init(
        fetchAt: String, initialSessions: Int, retrySeconds: Int, minBarsPerDay: Int, validation: String, markMinDollarVolume: Int64,
        inputs: LiveInputsConfig? = nil
    ) {
        self.fetchAt = fetchAt
        self.initialSessions = initialSessions
        self.retrySeconds = retrySeconds
        self.minBarsPerDay = minBarsPerDay
        self.validation = validation
        self.markMinDollarVolume = markMinDollarVolume
        self.inputs = inputs
    }

    /// The regime inputs, sectors and marks settings in effect.
    public var inputsInEffect: LiveInputsConfig { inputs ?? .standard }

    /// What etc/ast.yaml ships.
    public static let standard = LiveMarketDataConfig(
        fetchAt: "16:10", initialSessions: 300, retrySeconds: 900, minBarsPerDay: 1000,
        validation: "strict", markMinDollarVolume: 1_000_000, inputs: .standard)

    enum CodingKeys: String, CodingKey {
        case fetchAt = "fetch_at"
        case initialSessions = "initial_sessions"
        case retrySeconds = "retry_seconds"
        case minBarsPerDay = "min_bars_per_day"
        case validation
        case markMinDollarVolume = "mark_min_dollar_volume"
        case inputs
    }

    /// ``fetchAt`` as a time of day, or nil when it is not `HH:MM`.
    public var fetchTime: LocalTime? {
        let parts = fetchAt.split(separator: ":")
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let h = Int(parts[0]), let m = Int(parts[1]),
            (0...23).contains(h), (0...59).contains(m)
        else { return nil }
        return LocalTime(hour: h, minute: m)
    }

    public func validate(_ v: inout ConfigValidator) {
        v.check(fetchTime != nil, key: CodingKeys.fetchAt, must: "be a New York time as HH:MM", got: fetchAt)
        if let t = fetchTime {
            v.check(t >= TradingCalendar.regularClose, key: CodingKeys.fetchAt, must: "be at or after the 16:00 close", got: fetchAt)
        }
        v.range(initialSessions, 1...5_000, key: CodingKeys.initialSessions)
        v.range(retrySeconds, 10...86_400, key: CodingKeys.retrySeconds)
        v.range(minBarsPerDay, 1...100_000, key: CodingKeys.minBarsPerDay)
        v.check(["strict", "lenient"].contains(validation), key: CodingKeys.validation, must: "be strict or lenient", got: validation)
        v.range(markMinDollarVolume, 0...1_000_000_000_000, key: CodingKeys.markMinDollarVolume)
        if let inputs { v.section(inputs, key: CodingKeys.inputs) }
    }
}

/// `marketdata.polygon`: where Polygon's API is. The API key is the secret `polygon_api_key`
/// (``SecretStore``), never configuration.
public struct PolygonConfig: ConfigSection, Equatable {
    /// The API's base URL: https (http only on loopback, for tests), no trailing slash.
    public var baseURL: String

    public init(baseURL: String) {
        self.baseURL = baseURL
    }

    /// What etc/ast.yaml ships.
    public static let standard = PolygonConfig(baseURL: "https://api.polygon.io")

    enum CodingKeys: String, CodingKey {
        case baseURL = "base_url"
    }

    public func validate(_ v: inout ConfigValidator) {
        let lower = baseURL.lowercased()
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"].contains {
            lower == $0 || lower.hasPrefix($0 + ":") || lower.hasPrefix($0 + "/")
        }
        v.check(
            (lower.hasPrefix("https://") && lower.count > "https://".count) || loopback, key: CodingKeys.baseURL,
            must: "be an https:// URL (http:// only on loopback; the API key travels in it)", got: baseURL)
        v.check(!baseURL.hasSuffix("/"), key: CodingKeys.baseURL, must: "not end with /", got: baseURL)
    }
}

/// See ``MarketDataConfig/source``.
public enum MarketDataSource: String, ConfigEnum, Equatable {
    case polygon
    case bundled
    case csv
    case store
}

/// Which sessions the replay feed plays (``ClockMode/replay`` only).
public struct ReplayConfig: ConfigSection, Equatable {
    /// The first session to play (YYYY-MM-DD); the bars before it are the history the strategy starts with.
    public var from: String
    /// How many sessions to play.
    public var sessions: Int

    public init(from: String, sessions: Int) {
        self.from = from
        self.sessions = sessions
    }

    public static let standard = ReplayConfig(from: "2025-07-01", sessions: 15)

    /// ``from`` as a date (validated).
    public var fromDate: LocalDate { LocalDate(from) ?? LocalDate(year: 2026, month: 10, day: 1)! }

    public func validate(_ v: inout ConfigValidator) {
        v.check(LocalDate(from) != nil, key: ConfigKey("from"), must: "be a date as YYYY-MM-DD", got: from)
        v.check((1...2_000).contains(sessions), key: ConfigKey("sessions"), must: "be between 1 and 2000", got: sessions)
    }
}

extension ASTConfig {
    /// The `marketdata:` section in effect: the configured one, else the shipped defaults
    /// (``MarketDataConfig/standardProduction`` in production, ``MarketDataConfig/standard`` elsewhere).
    public var marketdataInEffect: MarketDataConfig {
        marketdata ?? (tree.environment == .production ? .standardProduction : .standard)
    }
}
