/// Margin requirements of a long stock account, exact on the 1/10,000 grid: one piece of code
/// for the research loop (``RegT``) and the engine (`strategy.sizing.margin`).
///
/// - Initial requirement: `initialBps` of a purchase's value. Buying power = equity /
///   initial − the positions' value, so a flat account at 50 % buys up to 2 × equity.
/// - Maintenance requirement: `maintenanceBps` of the positions' market value.
/// - Intrabar worst case: a long is valued at the bar's low (the lowest it traded). When
///   cash + that value is below maintenance × that value, the call cannot be met within the bar
///   and the positions are sold at the bar's close (forced liquidation).
public struct MarginRequirements: Sendable, Equatable {
    /// The initial requirement, in basis points (1 to 10,000).
    public var initialBps: Int64
    /// The maintenance requirement, in basis points (1 to 10,000).
    public var maintenanceBps: Int64

    public init(initialBps: Int64, maintenanceBps: Int64) {
        self.initialBps = initialBps
        self.maintenanceBps = maintenanceBps
    }

    /// Reg T: 50 % initial, 25 % maintenance (FINRA's minimum).
    public static let regT = MarginRequirements(initialBps: 5_000, maintenanceBps: 2_500)

    /// The purchase value an account with `equity` may add when it already holds positions worth
    /// `positionsValue` (units): equity / initial − positions' value, never negative.
    public func buyingPower(equity: Int128, positionsValue: Int128) -> Int128 {
        guard equity > 0, initialBps > 0 else { return 0 }
        return max(0, equity * 10_000 / Int128(initialBps) - positionsValue)
    }

    /// Whether longs worth `worstValue` (units, at their worst prices) with `cash` breach
    /// maintenance: cash + worstValue < maintenance × worstValue (exact: compared × 10,000). The
    /// caller asks only for an account that holds longs.
    public func breachesMaintenance(cash: Int128, worstValue: Int128) -> Bool {
        (cash + worstValue) * 10_000 < worstValue * Int128(maintenanceBps)
    }
}

/// Reg T margin for a long stock account (``MarginRequirements/regT``), as the research loop
/// applies it to its one position.
public enum RegT {
    /// 50 %, in basis points.
    public static let initialBps: Int64 = MarginRequirements.regT.initialBps
    /// 25 %, in basis points.
    public static let maintenanceBps: Int64 = MarginRequirements.regT.maintenanceBps

    /// ``MarginRequirements/buyingPower(equity:positionsValue:)`` at Reg T.
    public static func buyingPower(equity: Int128, positionsValue: Int128) -> Int128 {
        MarginRequirements.regT.buyingPower(equity: equity, positionsValue: positionsValue)
    }

    /// Whether a long of `shares` with `cash` breaches Reg T maintenance at the worst price `low`.
    public static func breachesMaintenance(cash: Int128, shares: Int64, low: Int64) -> Bool {
        guard shares > 0 else { return false }
        return MarginRequirements.regT.breachesMaintenance(cash: cash, worstValue: Int128(shares) * Int128(low))
    }
}
