import ASTCore

/// Why a mode was refused, in words an operator can act on.
public struct ModeRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var mode: TradingMode
    /// Every missing condition.
    public var reasons: [String]

    public var description: String {
        "mode \(mode) refused: " + reasons.joined(separator: "; ")
    }
}

/// The start-up check of the trading mode. DRY_RUN and PAPER are always allowed; LIVE only when
/// the configuration enables it explicitly **and** broker credentials are present. Where the mode
/// is enforced (no order leaving the risk gate in DRY_RUN) is the risk gate's business.
public enum ModeCheck {
    public static func validate(mode: TradingMode, liveEnabled: Bool, hasBrokerCredentials: Bool) -> Result<TradingMode, ModeRefusal> {
        guard mode == .live else { return .success(mode) }
        var reasons: [String] = []
        if !liveEnabled {
            reasons.append("live trading is not enabled in the configuration (set live_enabled: true in etc/ast.yaml to trade real money)")
        }
        if !hasBrokerCredentials {
            reasons.append("no broker credentials were found (provide them through systemd LoadCredential=, see runbooks/)")
        }
        return reasons.isEmpty ? .success(.live) : .failure(ModeRefusal(mode: .live, reasons: reasons))
    }
}
