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

/// The values of one node for one bar (at most three: MACD, the bands, ADX, KDJ), held inline so
/// that evaluating a node allocates nothing.
struct NodeCells: Sendable, Equatable {
    var count: Int
    var a: Double
    var b: Double
    var c: Double

    init(_ a: Double) { (count, self.a, b, c) = (1, a, 0, 0) }
    init(_ a: Double, _ b: Double) { (count, self.a, self.b, c) = (2, a, b, 0) }
    init(_ a: Double, _ b: Double, _ c: Double) { (count, self.a, self.b, self.c) = (3, a, b, c) }

    subscript(i: Int) -> Double { i == 0 ? a : i == 1 ? b : c }

    /// The same values as the output's ``IndicatorOutput/columnValues``, in the same order.
    var values: [Double] { count == 1 ? [a] : count == 2 ? [a, b] : [a, b, c] }
}

extension MACDValue { var cells: NodeCells { NodeCells(macd, signal, histogram) } }
extension BollingerValue { var cells: NodeCells { NodeCells(middle, upper, lower) } }
extension ADXValue { var cells: NodeCells { NodeCells(adx, plusDI, minusDI) } }
extension SuperTrendValue { var cells: NodeCells { NodeCells(value, Double(direction.rawValue)) } }
extension KDJValue { var cells: NodeCells { NodeCells(k, d, j) } }

/// What a node computes: selects the typed array of ``NodeStates`` that holds its state.
enum NodeKind: UInt8, Sendable, Equatable {
    case sma, ema, rsi, kdj, trueRange, standardDeviation, atr, macd, bollinger, adx, supertrend

    init(_ key: NodeKey) {
        switch key {
        case .trueRange: self = .trueRange
        case .standardDeviation: self = .standardDeviation
        case .indicator(let spec):
            switch spec {
            case .sma: self = .sma
            case .ema: self = .ema
            case .rsi: self = .rsi
            case .kdj: self = .kdj
            case .atr: self = .atr
            case .macd: self = .macd
            case .bollinger: self = .bollinger
            case .adx: self = .adx
            case .supertrend: self = .supertrend
            }
        }
    }
}

/// The incremental states of an engine's nodes: one array per kind of state, each state advanced
/// in place through its array's subscript. (An enum of the states made every node's step copy the
/// largest payload, ADX's or SuperTrend's, in and out: a `memcpy` of hundreds of bytes per node
/// per bar.) Node `i` of the plan is element `plan.nodeSlots[i]` of the array of its kind.
struct NodeStates: Sendable {
    var sma: [SMA] = []
    var ema: [EMA] = []
    var rsi: [RSI] = []
    var kdj: [KDJ] = []
    var trueRange: [TrueRangeState] = []
    var standardDeviation: [ExactWindow] = []
    var atr: [WilderAverage] = []
    var macd: [MACDCore] = []
    var bollinger: [Double] = []
    var adx: [ADXCore] = []
    var supertrend: [SuperTrendCore] = []

    /// The initial states of `nodes`, appended in node order (so the slots are ``IndicatorPlan/slots(_:)``'s).
    init(_ nodes: [NodeKey]) {
        for key in nodes {
            switch key {
            case .trueRange: trueRange.append(TrueRangeState())
            case .standardDeviation(let n): standardDeviation.append(ExactWindow(period: n))
            case .indicator(let spec):
                switch spec {
                case .sma(let n): sma.append(SMA(period: n))
                case .ema(let n): ema.append(EMA(period: n))
                case .rsi(let n): rsi.append(RSI(period: n))
                case .kdj(let n, let a, let b): kdj.append(KDJ(period: n, kSmoothing: a, dSmoothing: b))
                case .atr(let n): atr.append(WilderAverage(period: n))
                case .macd(_, _, let g): macd.append(MACDCore(signal: g))
                case .bollinger(_, let k): bollinger.append(k)
                case .adx(let n): adx.append(ADXCore(period: n))
                case .supertrend(_, let k): supertrend.append(SuperTrendCore(multiplier: k))
                }
            }
        }
    }

    /// Advances the state at `slot` of `kind` by one bar; `first` and `second` are this bar's
    /// outputs of the node's dependencies, in the order ``NodeKey/dependencies`` lists them.
    mutating func evaluate(_ kind: NodeKind, _ slot: Int, _ bar: Bar, _ first: NodeCells?, _ second: NodeCells?) -> NodeCells? {
        switch kind {
        case .sma: return sma[slot].update(bar).map { NodeCells($0) }
        case .ema: return ema[slot].update(bar).map { NodeCells($0) }
        case .rsi: return rsi[slot].update(bar).map { NodeCells($0) }
        case .kdj: return kdj[slot].update(bar)?.cells
        case .trueRange: return trueRange[slot].update(bar).map { NodeCells($0) }
        case .standardDeviation:
            standardDeviation[slot].push(bar.close.units)
            return standardDeviation[slot].isFull ? NodeCells(standardDeviation[slot].populationStandardDeviation) : nil
        case .atr:
            guard let tr = first?.a else { return nil }
            return atr[slot].update(tr).map { NodeCells($0) }
        case .macd: return macd[slot].update(fast: first?.a, slow: second?.a)?.cells
        case .bollinger:
            guard let mean = first?.a, let sd = second?.a else { return nil }
            return BollingerBands.bands(mean: mean, deviation: sd, multiplier: bollinger[slot]).cells
        case .adx: return adx[slot].update(bar, trueRange: first?.a)?.cells
        case .supertrend: return supertrend[slot].update(bar, atr: first?.a)?.cells
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
    /// The number of columns of each requested indicator, and of all of them.
    let requestedWidths: [Int]
    let columnCount: Int
    /// Each node's first and second dependency (`inputs`), -1 for none: read per bar without an array.
    let firstInputs: [Int]
    let secondInputs: [Int]
    /// Each node's kind and its index in ``NodeStates``' array of that kind.
    let nodeKinds: [NodeKind]
    let nodeSlots: [Int]

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
        requestedWidths = requested.map(\.columns.count)
        columnCount = requestedWidths.reduce(0, +)
        firstInputs = inputs.map { $0.first ?? -1 }
        secondInputs = inputs.map { $0.count > 1 ? $0[1] : -1 }
        nodeKinds = nodes.map(NodeKind.init)
        var perKind: [NodeKind: Int] = [:]
        nodeSlots = nodeKinds.map { kind in
            defer { perKind[kind, default: 0] += 1 }
            return perKind[kind, default: 0]
        }
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
    /// One entry per spec, inline (no array per indicator per bar), `nil` during warm-up.
    var cells: [NodeCells?]

    init(specs: [IndicatorSpec], cells: [NodeCells?]) {
        self.specs = specs
        self.cells = cells
    }

    /// One entry per spec: its ``IndicatorOutput/columnValues``, or `nil` during warm-up.
    public var values: [[Double]?] { cells.map { $0?.values } }

    /// The values of `spec`, or `nil` if it is warming up or was not requested.
    public subscript(_ spec: IndicatorSpec) -> [Double]? {
        specs.firstIndex(of: spec).flatMap { cells[$0]?.values }
    }

    /// The first (main) value of `spec`: the RSI, the MACD line, the middle band, the ADX ...
    public func value(_ spec: IndicatorSpec) -> Double? { specs.firstIndex(of: spec).flatMap { cells[$0]?.a } }

    /// All columns of the plan, flattened in ``IndicatorPlan/columns`` order (`nil` for an
    /// indicator still warming up).
    public var row: [Double?] {
        zip(specs, values).flatMap { spec, v in v.map { $0.map(Optional.some) } ?? Array(repeating: nil, count: spec.columns.count) }
    }
}

/// The indicators of one symbol: a plan and the state of each of its nodes.
public struct IndicatorEngine: Sendable {
    public let plan: IndicatorPlan
    private var states: NodeStates
    private var lastStart: Timestamp?
    /// Every node's output for the last bar, reused from bar to bar.
    private var outputs: [NodeCells?]
    /// How often each node was evaluated, in plan order (to show sharing in tests and stats).
    public private(set) var evaluations: [Int]

    public init(plan: IndicatorPlan) {
        self.plan = plan
        states = NodeStates(plan.nodes)
        outputs = Array(repeating: nil, count: plan.nodes.count)
        evaluations = Array(repeating: 0, count: plan.nodes.count)
    }

    /// Bars accepted so far.
    public var barCount: Int { evaluations.first ?? 0 }

    /// Feeds the symbol's next bar and returns every requested indicator after it. A bar that
    /// does not start after the previous one is ignored (`nil`): it would corrupt every
    /// indicator, and a market-data layer that sends it has a bug to report, not to trade on.
    public mutating func update(_ bar: Bar) -> IndicatorValues? {
        guard advance(bar) else { return nil }
        return IndicatorValues(specs: plan.requested, cells: plan.requestedNodes.map { outputs[$0] })
    }

    /// Feeds the next bar as ``update(_:)`` does and stores what it returns in `values`, reusing
    /// `values`' storage when it holds values of this plan and nothing else shares it (a ring of
    /// values then allocates nothing per bar). Returns false, and leaves `values` alone, for a
    /// bar that does not start after the previous one.
    public mutating func update(_ bar: Bar, into values: inout IndicatorValues) -> Bool {
        guard advance(bar) else { return false }
        let nodes = plan.requestedNodes
        guard values.cells.count == nodes.count, values.specs == plan.requested else {
            values = IndicatorValues(specs: plan.requested, cells: nodes.map { outputs[$0] })
            return true
        }
        for (k, node) in nodes.enumerated() { values.cells[k] = outputs[node] }
        return true
    }

    /// Feeds the next bar as ``update(_:)`` does and writes ``IndicatorValues/row`` (every column
    /// of the plan, `nil` while its indicator warms up) into `columns`, which it resizes to
    /// ``IndicatorPlan/columns``' count: no allocation per bar. Returns false, and leaves
    /// `columns` alone, for a bar that does not start after the previous one.
    public mutating func update(_ bar: Bar, columns: inout [Double?]) -> Bool {
        guard advance(bar) else { return false }
        if columns.count != plan.columnCount { columns = Array(repeating: nil, count: plan.columnCount) }
        var c = 0
        for (k, node) in plan.requestedNodes.enumerated() {
            let width = plan.requestedWidths[k]
            if let cells = outputs[node] {
                for j in 0..<width { columns[c + j] = cells[j] }
            } else {
                for j in 0..<width { columns[c + j] = nil }
            }
            c += width
        }
        return true
    }

    private mutating func advance(_ bar: Bar) -> Bool {
        if let lastStart, bar.start <= lastStart { return false }
        lastStart = bar.start
        for i in plan.nodes.indices {
            let f = plan.firstInputs[i], g = plan.secondInputs[i]
            let first = f < 0 ? nil : outputs[f]
            let second = g < 0 ? nil : outputs[g]
            outputs[i] = states.evaluate(plan.nodeKinds[i], plan.nodeSlots[i], bar, first, second)
            evaluations[i] += 1
        }
        return true
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
