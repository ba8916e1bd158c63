import ASTCore

/// What one regime changes of the pipeline while the ``RegimeClassifier`` reports it
/// (`strategy.regime_overrides.<regime>`). Each section present replaces the base's section in
/// the effective configuration: `filters` and `sizing` key by key (a key not given keeps the
/// base's value), `strategy` by its parameters (merged over the base's, unless the overlay
/// names another strategy), `detectors` and `exits` as whole lists.
///
/// The risk gate's limits (`risk:`) are deliberately not overridable per regime: the gate is the
/// independent last check and takes no word of the strategy about the market. Tightening risk
/// in a regime is done here, in the pipeline's own limits (`sizing.risk_pct`,
/// `max_position_pct`, `max_exposure_pct`, `max_positions`): intents only get smaller or fewer,
/// and the gate's fixed limits still hold over them.
public struct RegimeOverlay: Sendable, Equatable, Encodable {
    public var detectors: [PluginConfig]?
    /// The effective filter chain (the overlay's keys over the base's).
    public var filters: FilterChainConfig?
    /// The effective strategy (the overlay's parameters over the base's).
    public var strategy: PluginConfig?
    /// The effective sizing (the overlay's keys over the base's).
    public var sizing: SizingConfig?
    public var exits: [PluginConfig]?

    public init(
        detectors: [PluginConfig]? = nil, filters: FilterChainConfig? = nil, strategy: PluginConfig? = nil,
        sizing: SizingConfig? = nil, exits: [PluginConfig]? = nil
    ) {
        self.detectors = detectors
        self.filters = filters
        self.strategy = strategy
        self.sizing = sizing
        self.exits = exits
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case detectors, filters, strategy, sizing, exits }

    /// Decodes an overlay over `base`'s sections.
    init(from decoder: any Decoder, over base: PipelineConfig, regime: MarketRegime) throws {
        let section = "strategy.regime_overrides.\(regime)"
        try rejectUnknownKeys(decoder, CodingKeys.self, section: section)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        detectors = try c.decodeIfPresent([PluginConfig].self, forKey: .detectors)
        exits = try c.decodeIfPresent([PluginConfig].self, forKey: .exits)
        if c.contains(.filters) {
            filters = try FilterChainConfig(from: c.superDecoder(forKey: .filters), over: base.filters, section: "\(section).filters")
        }
        if c.contains(.sizing) {
            sizing = try SizingConfig(from: c.superDecoder(forKey: .sizing), over: base.sizing, section: "\(section).sizing")
        }
        if c.contains(.strategy) {
            let partial = try PartialPlugin(from: c.superDecoder(forKey: .strategy), section: "\(section).strategy")
            let name = partial.name ?? base.strategy.name
            var params = name == base.strategy.name ? base.strategy.params : PluginParameters()
            for (k, v) in partial.params?.values ?? [:] { params.values[k] = v }
            strategy = PluginConfig(name: name, params: params)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(detectors, forKey: .detectors)
        try c.encodeIfPresent(filters, forKey: .filters)
        try c.encodeIfPresent(strategy, forKey: .strategy)
        try c.encodeIfPresent(sizing, forKey: .sizing)
        try c.encodeIfPresent(exits, forKey: .exits)
    }

    /// `base` with this overlay's sections in place.
    func applied(to base: PipelineConfig) -> PipelineConfig {
        var e = base
        e.regimeOverrides = [:]
        if let detectors { e.detectors = detectors }
        if let filters { e.filters = filters }
        if let strategy { e.strategy = strategy }
        if let sizing { e.sizing = sizing }
        if let exits { e.exits = exits }
        return e
    }
}

/// A strategy section of an overlay: either key may be left out.
private struct PartialPlugin: Decodable {
    var name: String?
    var params: PluginParameters?

    enum CodingKeys: String, CodingKey, CaseIterable { case name, params }

    init(from decoder: any Decoder, section: String) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: section)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        params = try c.decodeIfPresent(PluginParameters.self, forKey: .params)
    }

    init(from decoder: any Decoder) throws { try self.init(from: decoder, section: "strategy") }
}

extension PipelineConfig {
    /// The configuration in effect while `regime` holds: the base, or the base with the regime's
    /// overlay applied (never with overlays of its own).
    public func effective(for regime: MarketRegime) -> PipelineConfig {
        guard let overlay = regimeOverrides[regime] else { return self }
        return overlay.applied(to: self)
    }

    /// The regimes with an overlay, in ``MarketRegime`` order (never a dictionary's).
    var overlaidRegimes: [MarketRegime] { MarketRegime.allCases.filter { regimeOverrides[$0] != nil } }

    /// Decodes `strategy.regime_overrides` over the already decoded base sections.
    static func decodeOverrides(_ decoder: any Decoder, over base: PipelineConfig) throws -> [MarketRegime: RegimeOverlay] {
        let c = try decoder.container(keyedBy: AnyConfigKey.self)
        var out: [MarketRegime: RegimeOverlay] = [:]
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            guard let regime = MarketRegime(rawValue: key.stringValue) else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: decoder.codingPath,
                        debugDescription:
                            "strategy.regime_overrides: unknown regime '\(key.stringValue)' "
                            + "(known: \(MarketRegime.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
            out[regime] = try RegimeOverlay(from: c.superDecoder(forKey: key), over: base, regime: regime)
        }
        return out
    }
}
