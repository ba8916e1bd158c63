/// What is known about a symbol besides its bars: its name and listing for the universe and reports,
/// its sector for the risk gate's concentration rule, and whether it is an index rather than a
/// tradable share. Market data reads it from its reference data; the strategy and the engine use it
/// as it is.
public struct SymbolInfo: Sendable, Equatable, Codable {
    public var symbol: Symbol
    /// The company's name (empty where the source gave none).
    public var name: String
    /// The listing exchange's code as market data spells it (`NASDAQ`, `NYSE`, `AMEX`, ...; `INDEX`
    /// for an index).
    public var exchange: String
    /// `nil` when unknown, never an empty name: the risk gate blocks entries in a symbol without one
    /// (REFERENCE_DATA_MISSING) rather than lumping such symbols together as one sector.
    public var sector: String?
    /// An index (or a volatility index) is an input of the regime, never a trade; it has no volume of
    /// its own.
    public var isIndex: Bool

    /// An empty `sector` (how reference files and the bar store spell "unknown") is taken as `nil`.
    public init(symbol: Symbol, name: String = "", exchange: String, sector: String? = nil, isIndex: Bool = false) {
        self.symbol = symbol
        self.name = name
        self.exchange = exchange
        self.sector = sector.flatMap { $0.isEmpty ? nil : $0 }
        self.isIndex = isIndex
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            symbol: try c.decode(Symbol.self, forKey: .symbol), name: try c.decodeIfPresent(String.self, forKey: .name) ?? "",
            exchange: try c.decode(String.self, forKey: .exchange), sector: try c.decodeIfPresent(String.self, forKey: .sector),
            isIndex: try c.decodeIfPresent(Bool.self, forKey: .isIndex) ?? false)
    }

    enum CodingKeys: String, CodingKey {
        case symbol, name, exchange, sector
        case isIndex = "is_index"
    }
}
