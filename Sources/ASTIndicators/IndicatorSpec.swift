/// An indicator with its parameters, as a strategy or the command line names it:
/// `sma:50`, `ema:20`, `rsi:14`, `macd:12,26,9`, `atr:14`, `bb:20,2`, `adx:14`,
/// `supertrend:10,3`, `kdj:9,3,3`.
///
/// Parameters may be omitted where a conventional default exists (`rsi` is `rsi:14`); SMA and
/// EMA have no default period. The text form (``description``) is canonical and parses back
/// to the same spec.
public enum IndicatorSpec: Hashable, Sendable, CustomStringConvertible {
    case sma(period: Int)
    case ema(period: Int)
    case rsi(period: Int)
    case macd(fast: Int, slow: Int, signal: Int)
    case atr(period: Int)
    case bollinger(period: Int, multiplier: Double)
    case adx(period: Int)
    case supertrend(period: Int, multiplier: Double)
    case kdj(period: Int, kSmoothing: Int, dSmoothing: Int)

    /// The largest period accepted, to refuse typos like `sma:2000000` before they allocate.
    public static let maximumPeriod = 10_000

    /// The names understood by ``init(parsing:)``, with their defaults.
    public static let catalog: [(name: String, parameters: String, defaults: String?)] = [
        ("sma", "period", nil), ("ema", "period", nil), ("rsi", "period", "14"),
        ("macd", "fast,slow,signal", "12,26,9"), ("atr", "period", "14"), ("bb", "period,multiplier", "20,2"),
        ("adx", "period", "14"), ("supertrend", "atr_period,multiplier", "10,3"),
        ("kdj", "period,k_smoothing,d_smoothing", "9,3,3"),
    ]

    /// Parses `name` or `name:p1,p2,...`, or throws an ``IndicatorSpecError`` that says what is
    /// wrong and what is expected.
    public init(parsing text: String) throws(IndicatorSpecError) {
        let trimmed = text.trimmingWhitespace()
        let (name, rest): (Substring, Substring?) =
            if let colon = trimmed.firstIndex(of: ":") {
                (trimmed[..<colon], trimmed[trimmed.index(after: colon)...])
            } else {
                (trimmed[...], nil)
            }
        let lower = name.trimmingWhitespace().lowercased()
        guard let entry = Self.catalog.first(where: { $0.name == lower }) else {
            throw .unknownIndicator(spec: text, name: name.trimmingWhitespace())
        }
        guard let raw = rest.map(String.init) ?? entry.defaults else {
            throw .wrongParameterCount(spec: text, expected: "\(entry.name):\(entry.parameters)")
        }
        let parts = raw.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace() }
        let expectedCount = entry.parameters.split(separator: ",").count
        guard parts.count == expectedCount else {
            throw .wrongParameterCount(spec: text, expected: "\(entry.name):\(entry.parameters)")
        }
        func period(_ i: Int, _ what: String) throws(IndicatorSpecError) -> Int {
            guard let v = Int(parts[i]), v >= 1, v <= Self.maximumPeriod else {
                throw .invalidParameter(
                    spec: text, reason: "\(what) must be a whole number from 1 to \(Self.maximumPeriod) (got '\(parts[i])')")
            }
            return v
        }
        func multiplier(_ i: Int) throws(IndicatorSpecError) -> Double {
            guard let v = Double(parts[i]), v.isFinite, v > 0, v <= 1000 else {
                throw .invalidParameter(spec: text, reason: "multiplier must be a number above 0 (got '\(parts[i])')")
            }
            return v
        }
        switch entry.name {
        case "sma": self = .sma(period: try period(0, "period"))
        case "ema": self = .ema(period: try period(0, "period"))
        case "rsi": self = .rsi(period: try period(0, "period"))
        case "atr": self = .atr(period: try period(0, "period"))
        case "adx": self = .adx(period: try period(0, "period"))
        case "macd":
            let f = try period(0, "fast period"), s = try period(1, "slow period"), g = try period(2, "signal period")
            guard f < s else {
                throw .invalidParameter(spec: text, reason: "fast period must be shorter than slow period (got \(f) and \(s))")
            }
            self = .macd(fast: f, slow: s, signal: g)
        case "bb": self = .bollinger(period: try period(0, "period"), multiplier: try multiplier(1))
        case "supertrend": self = .supertrend(period: try period(0, "ATR period"), multiplier: try multiplier(1))
        default:
            self = .kdj(
                period: try period(0, "period"), kSmoothing: try period(1, "K smoothing"),
                dSmoothing: try period(2, "D smoothing"))
        }
    }

    /// The canonical text form, e.g. `macd:12,26,9` or `bb:20,2.5`.
    public var description: String {
        switch self {
        case .sma(let n): "sma:\(n)"
        case .ema(let n): "ema:\(n)"
        case .rsi(let n): "rsi:\(n)"
        case .macd(let f, let s, let g): "macd:\(f),\(s),\(g)"
        case .atr(let n): "atr:\(n)"
        case .bollinger(let n, let k): "bb:\(n),\(format(k))"
        case .adx(let n): "adx:\(n)"
        case .supertrend(let n, let k): "supertrend:\(n),\(format(k))"
        case .kdj(let n, let a, let b): "kdj:\(n),\(a),\(b)"
        }
    }

    /// Output column names, one per value the indicator produces, in the order of
    /// ``IndicatorOutput/columnValues``.
    public var columns: [String] {
        switch self {
        case .sma(let n): ["sma_\(n)"]
        case .ema(let n): ["ema_\(n)"]
        case .rsi(let n): ["rsi_\(n)"]
        case .macd(let f, let s, let g):
            ["macd_\(f)_\(s)_\(g)", "macd_signal_\(f)_\(s)_\(g)", "macd_hist_\(f)_\(s)_\(g)"]
        case .atr(let n): ["atr_\(n)"]
        case .bollinger(let n, let k):
            ["bb_middle_\(n)_\(format(k))", "bb_upper_\(n)_\(format(k))", "bb_lower_\(n)_\(format(k))"]
        case .adx(let n): ["adx_\(n)", "plus_di_\(n)", "minus_di_\(n)"]
        case .supertrend(let n, let k): ["supertrend_\(n)_\(format(k))", "supertrend_dir_\(n)_\(format(k))"]
        case .kdj(let n, let a, let b): ["kdj_k_\(n)_\(a)_\(b)", "kdj_d_\(n)_\(a)_\(b)", "kdj_j_\(n)_\(a)_\(b)"]
        }
    }

    /// The number of bars before the first value (see each indicator's documentation).
    public var warmUp: Int {
        switch self {
        case .sma(let n), .ema(let n), .bollinger(let n, _), .kdj(let n, _, _): n
        case .rsi(let n), .atr(let n), .supertrend(let n, _): n + 1
        case .macd(_, let s, let g): s + g - 1
        case .adx(let n): 2 * n
        }
    }
}

/// Why an indicator spec did not parse.
public enum IndicatorSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownIndicator(spec: String, name: String)
    case wrongParameterCount(spec: String, expected: String)
    case invalidParameter(spec: String, reason: String)

    public var description: String {
        switch self {
        case .unknownIndicator(let spec, let name):
            "indicator '\(spec)': unknown indicator '\(name)'; known: "
                + IndicatorSpec.catalog.map(\.name).joined(separator: ", ")
        case .wrongParameterCount(let spec, let expected):
            "indicator '\(spec)': expected \(expected)"
        case .invalidParameter(let spec, let reason):
            "indicator '\(spec)': \(reason)"
        }
    }
}

/// `2` for 2.0, `2.5` for 2.5: the shortest text that reads back as the same number.
private func format(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
