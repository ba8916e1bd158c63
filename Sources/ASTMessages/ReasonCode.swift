/// Why the risk gate blocked or downgraded an intent group, refused a cancel, or moved to
/// SAFE_REDUCING. The raw values are stable: journals, alerts, the strategy and operators
/// match on them.
public enum ReasonCode: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The gate is HALTED: no new orders and no modifications.
    case tradingHalted = "TRADING_HALTED"
    /// The gate is SAFE_REDUCING and the symbol has no position to reduce (an entry from flat).
    case tradingStateReducing = "TRADING_STATE_REDUCING"
    /// The gate is SAFE_REDUCING and the order would increase or flip an existing position.
    case reduceOnlyWouldIncreasePosition = "REDUCE_ONLY_WOULD_INCREASE_POSITION"
    /// The order's notional is above ``RiskLimits/maxOrderNotionalPct`` of equity.
    case notionalExceedsMaxPerOrder = "NOTIONAL_EXCEEDS_MAX_PER_ORDER"
    /// Gross exposure would be above ``RiskLimits/maxGrossLeveragePct`` of equity.
    case maxLeverage = "MAX_LEVERAGE"
    /// One symbol's exposure would be above ``RiskLimits/maxSymbolConcentrationPct`` of equity.
    case maxConcentration = "MAX_CONCENTRATION"
    /// One sector's exposure would be above ``RiskLimits/maxSectorConcentrationPct`` of equity.
    case maxSectorConcentration = "MAX_SECTOR_CONCENTRATION"
    /// Today's loss (or the entry's risk to its stop on top of it) is above
    /// ``RiskLimits/dailyLossLimitPct`` of start-of-day equity.
    case dailyLossLimit = "DAILY_LOSS_LIMIT"
    /// The drawdown from peak equity (or the entry's risk to its stop on top of it) is above
    /// ``RiskLimits/maxDrawdownPct`` of peak equity.
    case maxDrawdown = "MAX_DRAWDOWN"
    /// More than ``RiskLimits/maxOrdersPerWindow`` approvals within the rolling window.
    case rateLimitExceeded = "RATE_LIMIT_EXCEEDED"
    /// The symbol's last market mark is older than ``RiskLimits/maxMarkAgeSeconds``.
    case staleMarketData = "STALE_MARKET_DATA"
    /// No market mark has been received for the symbol.
    case noMarketData = "NO_MARKET_DATA"
    /// The limit price is further than ``RiskLimits/priceBandPct`` from the last mark.
    case priceOutOfBand = "PRICE_OUT_OF_BAND"
    /// The order would open a position beyond ``RiskLimits/maxOpenPositions``.
    case maxOpenPositions = "MAX_OPEN_POSITIONS"
    /// An entry without a stop loss while ``RiskLimits/requireProtectiveStop`` is set.
    case missingProtectiveStop = "MISSING_PROTECTIVE_STOP"
    /// The intent group is malformed: a non-positive quantity or price, a stop or take profit
    /// on the wrong side of the entry, a reused intent id, an amount that does not fit.
    case invalidBracket = "INVALID_BRACKET"
    /// No portfolio snapshot yet: when in doubt, do nothing.
    case noPortfolio = "NO_PORTFOLIO"
    /// A request to cancel a protective stop: the system never touches them.
    case protectiveStopUntouchable = "PROTECTIVE_STOP_UNTOUCHABLE"
    /// The intent reached the gate at or after the end of the session it was made for
    /// (``IntentGroup/expiresAt``): a pre-market decision never goes out on another day.
    case intentExpired = "INTENT_EXPIRED"
    /// Reference data a rule needs is missing (a symbol's sector, for the sector concentration
    /// rule): the entry is blocked rather than computed with an "unknown" value (fail closed).
    case referenceDataMissing = "REFERENCE_DATA_MISSING"
    /// The broker refused the approval the gate gave this intent (``RiskInput/orderRefused(_:)``):
    /// a re-sent intent is not approved again.
    case orderRefusedByBroker = "ORDER_REFUSED_BY_BROKER"
    /// A broker is in a planned disconnect (IB Gateway's nightly restart), or back from one and
    /// not yet reconciled clean: nothing goes out until it is, and Safe Mode is not changed.
    case brokerDisconnected = "BROKER_DISCONNECTED"
    /// An operator order (`astctl protect`/`flatten`) for a symbol the book holds no position in.
    case operatorNoPosition = "OPERATOR_NO_POSITION"
    /// An operator order for more shares than the position holds (or, for a protective stop,
    /// than the position holds beyond the operator stops already placed): never an increase.
    case operatorQuantityExceedsPosition = "OPERATOR_QUANTITY_EXCEEDS_POSITION"
    /// `astctl protect` without `--stop` for a position whose bracket's stop the gate does not know.
    case operatorStopPriceUnknown = "OPERATOR_STOP_PRICE_UNKNOWN"
    /// An operator order without a reason, or with a stop on the wrong side of the last mark.
    case operatorOrderInvalid = "OPERATOR_ORDER_INVALID"

    public var description: String { rawValue }
}
