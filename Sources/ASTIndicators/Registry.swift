import ASTCore

/// A node of the indicator graph: a requested indicator or an intermediate one that several
/// indicators share (the true range, a rolling standard deviation).
enum NodeKey: Hashable, Sendable, CustomStringConvertible {
    case indicator(IndicatorSpec)
    case trueRange
    case standardDeviation(period: Int)

    /// The nodes this one reads, in the order its evaluation expects them.
    var dependencies: [NodeKey] {
        switch self {
        case .trueRange, .standardDeviation: []
        case .indicator(let spec):
            switch spec {
            case .macd(let fast, let slow, _): [.indicator(.ema(period: fast)), .indicator(.ema(period: slow))]
            case .bollinger(let n, _): [.indicator(.sma(period: n)), .standardDeviation(period: n)]
            case .atr, .adx: [.trueRange]
            case .supertrend(let n, _): [.indicator(.atr(period: n))]
            case .sma, .ema, .rsi, .kdj: []
            }
        }
    }

    var description: String {
        switch self {
        case .indicator(let spec): spec.description
        case .trueRange: "true_range"
        case .standardDeviation(let n): "stddev:\(n)"
        }
    }
}

/// The incremental state of one node; `evaluate` is its O(1) step for one bar.
enum NodeState: Sendable {
    case sma(SMA)
    case ema(EMA)
    case rsi(RSI)
    case kdj(KDJ)
    case trueRange(TrueRangeState)
    case standardDeviation(ExactWindow)
    case atr(WilderAverage)
    case macd(MACDCore)
    case bollinger(multiplier: Double)
    case adx(ADXCore)
    case supertrend(SuperTrendCore)

    init(_ key: NodeKey) {
        switch key {
        case .trueRange: self = .trueRange(TrueRangeState())
        case .standardDeviation(let n): self = .standardDeviation(ExactWindow(period: n))
        case .indicator(let spec):
            switch spec {
            case .sma(let n): self = .sma(SMA(period: n))
            case .ema(let n): self = .ema(EMA(period: n))
            case .rsi(let n): self = .rsi(RSI(period: n))
            case .kdj(let n, let a, let b): self = .kdj(KDJ(period: n, kSmoothing: a, dSmoothing: b))
            case .atr(let n): self = .atr(WilderAverage(period: n))
            case .macd(_, _, let g): self = .macd(MACDCore(signal: g))
            case .bollinger(_, let k): self = .bollinger(multiplier: k)
            case .adx(let n): self = .adx(ADXCore(period: n))
            case .supertrend(_, let k): self = .supertrend(SuperTrendCore(multiplier: k))
            }
        }
    }

    /// Advances by one bar; `inputs` are this bar's outputs of the dependencies.
    mutating func evaluate(_ bar: Bar, _ inputs: [[Double]?]) -> [Double]? {
        switch self {
        case .sma(var x):
            defer { self = .sma(x) }
            return x.update(bar)?.columnValues
        case .ema(var x):
            defer { self = .ema(x) }
            return x.update(bar)?.columnValues
        case .rsi(var x):
            defer { self = .rsi(x) }
            return x.update(bar)?.columnValues
        case .kdj(var x):
            defer { self = .kdj(x) }
            return x.update(bar)?.columnValues
        case .trueRange(var x):
            defer { self = .trueRange(x) }
            return x.update(bar).map { [$0] }
        case .standardDeviation(var w):
            defer { self = .standardDeviation(w) }
            w.push(bar.close.units)
            return w.isFull ? [w.populationStandardDeviation] : nil
        case .atr(var x):
            defer { self = .atr(x) }
            guard let tr = inputs[0]?[0] else { return nil }
            return x.update(tr).map { [$0] }
        case .macd(var x):
            defer { self = .macd(x) }
            return x.update(fast: inputs[0]?[0], slow: inputs[1]?[0])?.columnValues
        case .bollinger(let k):
            guard let mean = inputs[0]?[0], let sd = inputs[1]?[0] else { return nil }
            return BollingerBands.bands(mean: mean, deviation: sd, multiplier: k).columnValues
        case .adx(var x):
            defer { self = .adx(x) }
            return x.update(bar, trueRange: inputs[0]?[0])?.columnValues
        case .supertrend(var x):
            defer { self = .supertrend(x) }
            return x.update(bar, atr: inputs[0]?[0])?.columnValues
        }
    }
}

/// The resolved computation for a set of requested indicators: every indicator they need,
/// deduplicated and in dependency order, so that each is computed once per bar and shared by
/// every consumer (MACD 12,26,9 and a strategy's EMA 12 read the same EMA 12), and nothing
/// that no request needs is computed at all.
public struct IndicatorPlan: Sendable, Equatable {
    /// The requested indicators, duplicates removed, in the order first requested.
    public let requested: [IndicatorSpec]
    let nodes: [NodeKey]
    let inputs: [[Int]]
    let requestedNodes: [Int]

    /// Resolves `specs` and their dependencies.
    public init(_ specs: [IndicatorSpec]) {
        var requested: [IndicatorSpec] = []
        var nodes: [NodeKey] = []
        var index: [NodeKey: Int] = [:]
        var inputs: [[Int]] = []
        // Depth-first, dependencies before dependents: a topological order that depends only on
        // the order of `specs`, never on hashing.
        func visit(_ key: NodeKey) -> Int {
            if let i = index[key] { return i }
            let deps = key.dependencies.map(visit)
            index[key] = nodes.count
            nodes.append(key)
            inputs.append(deps)
            return nodes.count - 1
        }
        for spec in specs where !requested.contains(spec) {
            requested.append(spec)
            _ = visit(.indicator(spec))
        }
        self.requested = requested
        self.nodes = nodes
        self.inputs = inputs
        requestedNodes = requested.map { index[.indicator($0)]! }
    }

    /// Every node computed per bar, in evaluation order (`ema:12`, `ema:26`, `macd:12,26,9`,
    /// `true_range`, ...). Shared intermediates appear once.
    public var computedNodes: [String] { nodes.map(\.description) }

    /// The output columns of the requested indicators, in order.
    public var columns: [String] { requested.flatMap(\.columns) }

    /// Bars until every requested indicator has a value.
    public var warmUp: Int { requested.map(\.warmUp).max() ?? 0 }
}

/// The values of the requested indicators after one bar.
public struct IndicatorValues: Sendable, Equatable {
    /// The requested indicators, in plan order.
    public let specs: [IndicatorSpec]
    /// One entry per spec: its ``IndicatorOutput/columnValues``, or `nil` during warm-up.
    public let values: [[Double]?]

    /// The values of `spec`, or `nil` if it is warming up or was not requested.
    public subscript(_ spec: IndicatorSpec) -> [Double]? {
        specs.firstIndex(of: spec).flatMap { values[$0] }
    }

    /// The first (main) value of `spec`: the RSI, the MACD line, the middle band, the ADX ...
    public func value(_ spec: IndicatorSpec) -> Double? { self[spec]?.first }

    /// All columns of the plan, flattened in ``IndicatorPlan/columns`` order (`nil` for an
    /// indicator still warming up).
    public var row: [Double?] {
        zip(specs, values).flatMap { spec, v in v.map { $0.map(Optional.some) } ?? Array(repeating: nil, count: spec.columns.count) }
    }
}

/// The indicators of one symbol: a plan and the state of each of its nodes.
public struct IndicatorEngine: Sendable {
    public let plan: IndicatorPlan
    private var states: [NodeState]
    private var lastStart: Timestamp?
    /// How often each node was evaluated, in plan order (to show sharing in tests and stats).
    public private(set) var evaluations: [Int]

    public init(plan: IndicatorPlan) {
        self.plan = plan
        states = plan.nodes.map(NodeState.init)
        evaluations = Array(repeating: 0, count: plan.nodes.count)
    }

    /// Bars accepted so far.
    public var barCount: Int { evaluations.first ?? 0 }

    /// Feeds the symbol's next bar and returns every requested indicator after it. A bar that
    /// does not start after the previous one is ignored (`nil`): it would corrupt every
    /// indicator, and a market-data layer that sends it has a bug to report, not to trade on.
    public mutating func update(_ bar: Bar) -> IndicatorValues? {
        if let lastStart, bar.start <= lastStart { return nil }
        lastStart = bar.start
        var outputs = [[Double]?](repeating: nil, count: states.count)
        for i in states.indices {
            outputs[i] = states[i].evaluate(bar, plan.inputs[i].map { outputs[$0] })
            evaluations[i] += 1
        }
        return IndicatorValues(specs: plan.requested, values: plan.requestedNodes.map { outputs[$0] })
    }
}

/// One ``IndicatorEngine`` per symbol over a shared plan: the indicators of a whole universe.
public struct IndicatorBook: Sendable {
    public let plan: IndicatorPlan
    private var engines: [Symbol: IndicatorEngine] = [:]

    public init(plan: IndicatorPlan) { self.plan = plan }

    /// Feeds a bar of any symbol; see ``IndicatorEngine/update(_:)``.
    public mutating func update(_ bar: Bar) -> IndicatorValues? {
        engines[bar.symbol, default: IndicatorEngine(plan: plan)].update(bar)
    }

    /// The engine of `symbol`, if it has seen a bar.
    public func engine(for symbol: Symbol) -> IndicatorEngine? { engines[symbol] }
}
