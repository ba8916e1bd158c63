import ASTCore
import ASTPaperBroker

/// The research loop's fill realism beyond next-open and close fills, by the engine's exchange
/// rules (``ASTPaperBroker/FillModel``): a protective stop and a take profit set from the entry
/// fill (gap-aware stop, the `both_touched` tie-break), a volume cap, and the account's margin.
/// The defaults change nothing: no stop, no target, no cap, a cash account.
public struct ResearchRules: Sendable, Equatable {
    /// The stop, this percent below a long entry's fill price (nil: none).
    public var stopPct: Percent?
    /// The take profit, this percent above a long entry's fill price (nil: none).
    public var targetPct: Percent?
    /// Which fills when one bar reaches the stop and the target.
    public var bothTouched: BothTouchedRule = .worstCase
    /// At most this percent of a bar's volume fills per order and bar (nil: no cap). The rest of an
    /// entry is dropped; the rest of an exit is sold at the next bar's open.
    public var volumeCapPct: Percent?
    /// Cash account (no borrowing) or Reg T margin.
    public var margin: MarginModel = .cash

    public init(
        stopPct: Percent? = nil, targetPct: Percent? = nil, bothTouched: BothTouchedRule = .worstCase, volumeCapPct: Percent? = nil,
        margin: MarginModel = .cash
    ) {
        self.stopPct = stopPct
        self.targetPct = targetPct
        self.bothTouched = bothTouched
        self.volumeCapPct = volumeCapPct
        self.margin = margin
    }

    /// `--stop PCT`, `--target PCT`, `--both-touched RULE`, `--volume-cap PCT`, `--margin cash|regt`.
    public static func parse(
        stop: String?, target: String?, bothTouched: String = "worst_case", volumeCap: String?, margin: String = "cash"
    ) throws(ResearchError) -> ResearchRules {
        func percent(_ name: String, _ text: String?, max: Int64) throws(ResearchError) -> Percent? {
            guard let text else { return nil }
            guard let p = Percent(text), p.units > 0, p <= Percent(integerLiteral: max) else {
                throw ResearchError("--\(name): a percent above 0 and at most \(max) (got '\(text)')")
            }
            return p
        }
        guard let rule = BothTouchedRule(rawValue: bothTouched) else {
            throw ResearchError(
                "--both-touched: \(BothTouchedRule.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(bothTouched)')")
        }
        guard let m = MarginModel(rawValue: margin) else { throw ResearchError("--margin: cash or regt (got '\(margin)')") }
        return ResearchRules(
            stopPct: try percent("stop", stop, max: 99), targetPct: try percent("target", target, max: 1_000), bothTouched: rule,
            volumeCapPct: try percent("volume-cap", volumeCap, max: 100), margin: m)
    }

    /// The stop for a long entry filled at `entry`: entry × (1 − stop %), rounded half away from
    /// zero to 1/10,000 (nil without a stop).
    public func stop(entry: Int64) -> Price? {
        stopPct.map { Price(units: entry - TradeLedger.divide(Int128(entry) * Int128($0.units), 100 * Int128(Percent.unitsPerWhole))) }
    }

    /// The target for a long entry filled at `entry`: entry × (1 + target %), rounded likewise.
    public func target(entry: Int64) -> Price? {
        targetPct.map { Price(units: entry + TradeLedger.divide(Int128(entry) * Int128($0.units), 100 * Int128(Percent.unitsPerWhole))) }
    }

    /// The most shares one fill may take on a bar of `volume` (Int64.max without a cap or
    /// without volume data).
    public func cap(volume: Int64?) -> Int64 {
        guard let volumeCapPct, let volume else { return .max }
        return FillModel.volumeCap(volume: volume, share: volumeCapPct).shares
    }
}

/// How the research account may borrow.
public enum MarginModel: String, Sendable, Equatable {
    /// No borrowing: an entry never costs more than the cash (commission included).
    case cash
    /// Reg T (see ``RegT`` in ASTCore): an entry may use up to twice the equity (50 % initial margin), and a
    /// position whose worst-case equity in a bar falls below 25 % of its value is liquidated at
    /// that bar's close.
    case regt
}
