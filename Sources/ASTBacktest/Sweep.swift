/// One axis of a parameter sweep: a key and the values it takes, in the order given.
///
/// Keys: `fast` and `slow` (also `sma_cross.fast`, `sma_cross.slow`) set the windows of the
/// research strategy `sma_cross:FAST,SLOW`; `config.a.b` sets the configuration key `a.b` of an
/// engine-mode backtest (as the `AST_A__B` variable layer does); any other key names an
/// `ast backtest` option (`capital`, `size`, `commission`, `slippage`, `fill`, `from`, `to`,
/// `config`, `sessions`). Values: `A..B:STEP` (integers, both ends included) or a list `a,b,c`.
public struct SweepAxis: Sendable, Equatable, Codable {
    public var key: String
    public var values: [String]

    public init(key: String, values: [String]) {
        self.key = key
        self.values = values
    }

    /// The most cells a sweep may have (a bounded refusal, not an allocation of any size).
    public static let maximumCells = 1_000_000

    /// Parses `key=A..B:STEP` or `key=a,b,c`; the error names what is accepted.
    public static func parse(_ text: String) throws(SweepError) -> SweepAxis {
        guard let eq = text.firstIndex(of: "=") else {
            throw SweepError("--grid: KEY=A..B:STEP or KEY=a,b,c (got '\(text)')")
        }
        let key = String(text[..<eq]).trimmingSpaces, spec = String(text[text.index(after: eq)...]).trimmingSpaces
        return SweepAxis(key: try checkedKey(key, in: text), values: try values(spec, in: text))
    }

    /// Checks a key: letters, digits, `_`, `-` and `.` only.
    public static func checkedKey(_ key: String, in text: String) throws(SweepError) -> String {
        let allowed = key.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "_-.".unicodeScalars.contains($0)
        }
        guard !key.isEmpty, allowed, !key.hasPrefix("."), !key.hasSuffix(".") else {
            throw SweepError("--grid: the key must be a name such as fast, commission or config.strategy.risk_fraction (got '\(text)')")
        }
        return key
    }

    /// The values of `A..B:STEP` or `a,b,c`.
    public static func values(_ spec: String, in text: String) throws(SweepError) -> [String] {
        if let dots = spec.range(of: "..") {
            let lower = String(spec[..<dots.lowerBound])
            let rest = spec[dots.upperBound...].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let a = Int64(lower), let b = Int64(rest[0]), let step = rest.count > 1 ? Int64(rest[1]) : 1, step > 0, a <= b else {
                throw SweepError("--grid: a range is A..B:STEP with integers A <= B and STEP >= 1 (got '\(text)')")
            }
            let (span, o) = b.subtractingReportingOverflow(a)
            guard !o, span / step < Int64(maximumCells) else { throw SweepError("--grid: '\(text)' has more than \(maximumCells) values") }
            return stride(from: a, through: b, by: Int(step)).map { String($0) }
        }
        let list = spec.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        guard !list.isEmpty, !list.contains(where: \.isEmpty) else {
            throw SweepError("--grid: the values are A..B:STEP or a non-empty list a,b,c (got '\(text)')")
        }
        return list
    }
}

/// A sweep's cell: its index in the grid and the value of every axis.
public struct SweepCell: Sendable, Equatable, Codable {
    public var index: Int
    public var keys: [String]
    public var values: [String]

    public init(index: Int, keys: [String], values: [String]) {
        self.index = index
        self.keys = keys
        self.values = values
    }

    /// `fast=10 slow=40`.
    public var label: String { zip(keys, values).map { "\($0)=\($1)" }.joined(separator: " ") }
}

/// What one cell runs: `ast backtest` with these arguments and these configuration variables.
public struct SweepInvocation: Sendable, Equatable {
    public var arguments: [String]
    /// `AST_A__B` → value, the configuration layer of `config.a.b` keys.
    public var variables: [String: String]
}

/// The plan of a sweep, written to `DIR/plan.json` by the launcher and read by every shard: the
/// base `ast backtest` arguments, the axes and the cells (a pure function of these, so that every
/// process, local or on a Slurm node, runs the same cell under the same index).
public struct SweepPlan: Sendable, Equatable, Codable {
    public static let version = 1
    public var version: Int
    public var base: [String]
    public var axes: [SweepAxis]
    public var cells: [SweepCell]
    /// Combinations left out as meaningless (`fast >= slow`), for the report.
    public var skipped: Int
    public var rankBy: String
    /// Whether every cell also writes its summary.json, trades.csv and statistics.tsv into
    /// `DIR/cells/NNNNNN/` (`ast sweep --cell-files`); nil (absent in plan.json): only the table.
    public var cellFiles: Bool?

    /// The cartesian product of `axes` (the first axis varies slowest), without the cells whose
    /// `sma_cross` windows are not FAST < SLOW. Each cell's arguments are checked here, so that a
    /// bad key fails the launch, not a shard.
    public static func make(base: [String], axes: [SweepAxis], rankBy: String) throws(SweepError) -> SweepPlan {
        guard !axes.isEmpty else { throw SweepError("a sweep needs at least one --grid KEY=VALUES") }
        let keys = axes.map(\.key)
        guard Set(keys).count == keys.count else { throw SweepError("--grid: a key is given twice (\(keys.joined(separator: ", ")))") }
        guard SweepTable.metrics.contains(rankBy) else {
            throw SweepError("--rank-by: one of \(SweepTable.metrics.joined(separator: ", ")) (got '\(rankBy)')")
        }
        var total = 1
        for a in axes {
            let (p, o) = total.multipliedReportingOverflow(by: a.values.count)
            guard !o, p <= SweepAxis.maximumCells else { throw SweepError("the grid has more than \(SweepAxis.maximumCells) cells") }
            total = p
        }
        var plan = SweepPlan(version: version, base: base, axes: axes, cells: [], skipped: 0, rankBy: rankBy)
        plan.cells.reserveCapacity(total)
        for k in 0..<total {
            var rest = k, values = [String](repeating: "", count: axes.count)
            for i in axes.indices.reversed() {
                values[i] = axes[i].values[rest % axes[i].values.count]
                rest /= axes[i].values.count
            }
            let cell = SweepCell(index: plan.cells.count, keys: keys, values: values)
            if let w = try plan.windows(cell), w.0 >= w.1 {
                plan.skipped += 1
                continue
            }
            plan.cells.append(cell)
            _ = try plan.invocation(cell, out: "-")
        }
        guard !plan.cells.isEmpty else { throw SweepError("every cell of the grid has FAST >= SLOW; nothing to run") }
        return plan
    }

    /// The `sma_cross` windows of `cell` (the base `--strategy` with the cell's `fast`/`slow`),
    /// nil when the cell sets neither.
    func windows(_ cell: SweepCell) throws(SweepError) -> (Int, Int)? {
        var fast: Int?, slow: Int?
        for (k, v) in zip(cell.keys, cell.values) {
            switch k {
            case "fast", "sma_cross.fast": fast = Int(v)
            case "slow", "sma_cross.slow": slow = Int(v)
            default: continue
            }
            guard (k.hasSuffix("fast") ? fast : slow) != nil else { throw SweepError("--grid \(k): an integer window (got '\(v)')") }
        }
        guard fast != nil || slow != nil else { return nil }
        let strategy = Self.option("--strategy", in: base) ?? "sma_cross:10,20"
        let parts = strategy.split(separator: ":", maxSplits: 1)
        let baseWindows = parts.count == 2 ? parts[1].split(separator: ",").compactMap { Int($0) } : [10, 20]
        guard parts.first == "sma_cross", baseWindows.count == 2 else {
            throw SweepError("--grid fast/slow sweep sma_cross; the base --strategy is '\(strategy)'")
        }
        return (fast ?? baseWindows[0], slow ?? baseWindows[1])
    }

    /// The value of `--name VALUE` or `--name=VALUE` in `args` (the last one given).
    static func option(_ name: String, in args: [String]) -> String? {
        var found: String?
        var i = 0
        while i < args.count {
            if args[i] == name, i + 1 < args.count {
                found = args[i + 1]
                i += 1
            } else if args[i].hasPrefix(name + "=") {
                found = String(args[i].dropFirst(name.count + 1))
            }
            i += 1
        }
        return found
    }

    /// The backtest options a grid key may set (the rest of `ast backtest`'s options are the
    /// sweep's to decide: `--out`, `--quiet`, `--compare-state-dir`).
    public static let optionKeys: Set<String> = [
        "capital", "size", "commission", "slippage", "fill", "from", "to", "config", "sessions", "strategy", "store", "csv-dir", "csv",
        "symbol",
    ]

    /// The `ast backtest` arguments and configuration variables of `cell`, writing into `out`.
    public func invocation(_ cell: SweepCell, out: String) throws(SweepError) -> SweepInvocation {
        let o = try overrides(cell)
        return SweepInvocation(
            arguments: base + o.options.flatMap { ["--\($0.key)", $0.value] } + ["--out", out, "--quiet"], variables: o.variables)
    }

    /// What `cell` sets on top of the base arguments: backtest options (option name without
    /// `--`, value; `strategy` first when the cell sets windows), in the cell's axis order, and the
    /// configuration variables of its `config.KEY` axes. Every cell of a plan sets the same option
    /// names, so a sweep parses one cell's command line and sets these on it for the others.
    public func overrides(_ cell: SweepCell) throws(SweepError) -> (options: [(key: String, value: String)], variables: [String: String]) {
        var options: [(key: String, value: String)] = []
        var variables: [String: String] = [:]
        if let w = try windows(cell) { options.append(("strategy", "sma_cross:\(w.0),\(w.1)")) }
        for (k, v) in zip(cell.keys, cell.values) {
            if ["fast", "slow", "sma_cross.fast", "sma_cross.slow"].contains(k) { continue }
            if k.hasPrefix("config.") {
                let path = k.dropFirst("config.".count).split(separator: ".").map { $0.uppercased() }
                variables["AST_" + path.joined(separator: "__")] = v
            } else if Self.optionKeys.contains(k) {
                options.append((k, v))
            } else {
                throw SweepError(
                    "--grid \(k): not a sweepable key; use fast, slow, config.KEY or one of \(Self.optionKeys.sorted().joined(separator: ", "))"
                )
            }
        }
        return (options, variables)
    }

    /// The cells of shard `index` of `count`: every `count`-th cell from `index`, so that the shards'
    /// work is balanced whatever the grid's order.
    public func cells(shard index: Int, of count: Int) -> [SweepCell] {
        guard count > 0, index >= 0, index < count else { return [] }
        return stride(from: index, to: cells.count, by: count).map { cells[$0] }
    }
}

/// `I/N`: shard I (from 0) of N.
public struct SweepShard: Sendable, Equatable {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public static func parse(_ text: String) throws(SweepError) -> SweepShard {
        let p = text.split(separator: "/").map { Int($0) }
        guard p.count == 2, let i = p[0], let n = p[1], n >= 1, n <= SweepAxis.maximumCells, i >= 0, i < n else {
            throw SweepError("--shard: I/N with 0 <= I < N (got '\(text)')")
        }
        return SweepShard(index: i, count: n)
    }
}

/// One cell's result as the table reads it: the statistics as summary.json writes them.
public struct SweepRow: Sendable, Equatable {
    public var cell: SweepCell
    /// Statistic key → its JSON text (`0.123456`, `null`).
    public var statistics: [String: String]

    public init(cell: SweepCell, statistics: [String: String]) {
        self.cell = cell
        self.statistics = statistics
    }

    /// The statistic's value; nil for `null`, a missing key or text that is not a number.
    public func value(_ key: String) -> Double? { statistics[key].flatMap(Double.init) }
}

/// The ranked table of a sweep: every cell's parameters and statistics, best first by one
/// statistic (higher is better, except `max_drawdown` and `max_drawdown_duration`; an undefined
/// value ranks last; ties keep the grid's order), as CSV and Markdown.
public enum SweepTable {
    /// The statistics a table shows, in its column order.
    public static let metrics = [
        "total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration", "volatility", "trades", "win_rate",
        "profit_factor", "expectancy", "exposure_time", "commissions", "final_equity",
    ]

    static func lowerIsBetter(_ m: String) -> Bool { m == "max_drawdown" || m == "max_drawdown_duration" }

    /// `rows` best first by `metric`.
    public static func rank(_ rows: [SweepRow], by metric: String) -> [SweepRow] {
        let low = lowerIsBetter(metric)
        return rows.sorted { a, b in
            switch (a.value(metric), b.value(metric)) {
            case let (x?, y?) where x != y: return low ? x < y : x > y
            case (nil, _?): return false
            case (_?, nil): return true
            default: return a.cell.index < b.cell.index
            }
        }
    }

    /// `rank,cell,<axis keys>,<metrics>` then one line per ranked row.
    public static func csv(_ ranked: [SweepRow], axes: [String]) -> String {
        var out = (["rank", "cell"] + axes + metrics).joined(separator: ",") + "\n"
        for (i, r) in ranked.enumerated() {
            let fields = ["\(i + 1)", "\(r.cell.index)"] + r.cell.values.map(csvField) + metrics.map { r.statistics[$0] ?? "" }
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingAll("\"", "\"\"") + "\"" : s
    }

    /// A Markdown table of the first `limit` ranked rows.
    public static func markdown(_ ranked: [SweepRow], axes: [String], limit: Int = 50) -> String {
        let shown = ["total_return", "cagr", "sharpe", "max_drawdown", "trades", "win_rate", "profit_factor"]
        var out = "| Rank | Cell | " + (axes + shown).joined(separator: " | ") + " |\n"
        out += "|---:|---:|" + String(repeating: "---|", count: axes.count) + String(repeating: "---:|", count: shown.count) + "\n"
        for (i, r) in ranked.prefix(limit).enumerated() {
            let cells = r.cell.values.map { $0.replacingAll("|", "\\|") } + shown.map { m in show(m, r.value(m)) }
            out += "| \(i + 1) | \(r.cell.index) | " + cells.joined(separator: " | ") + " |\n"
        }
        if ranked.count > limit { out += "\n\(ranked.count - limit) more rows in results.csv.\n" }
        return out
    }

    static func show(_ metric: String, _ v: Double?) -> String {
        guard let v else { return "n/a" }
        switch metric {
        case "trades", "max_drawdown_duration": return BacktestFiles.number(v, 0)
        case "sharpe", "sortino", "calmar", "profit_factor": return BacktestFiles.number(v, 2)
        default: return BacktestFiles.number(v * 100, 2) + "%"
        }
    }

    /// report.md of a collected sweep: what ran, the best cell, the ranked table.
    public static func report(_ plan: SweepPlan, ranked: [SweepRow]) -> String {
        let axes = plan.axes.map(\.key)
        var out = "# Sweep report\n\n"
        out += "Backtest: `ast backtest \(plan.base.joined(separator: " "))`\n\n"
        for a in plan.axes { out += "- \(a.key): \(a.values.joined(separator: ", "))\n" }
        out += "\n\(plan.cells.count) cells"
        out += plan.skipped > 0 ? " (\(plan.skipped) combinations with FAST >= SLOW left out)" : ""
        out += ", ranked by \(plan.rankBy) (\(lowerIsBetter(plan.rankBy) ? "lowest" : "highest") first).\n\n"
        if let best = ranked.first { out += "Best: cell \(best.cell.index), \(best.cell.label).\n\n" }
        out += markdown(ranked, axes: axes)
        return out
    }

    /// Reads the `key<TAB>value` lines of a cell's statistics.tsv.
    public static func parseStatistics(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let p = line.split(separator: "\t", maxSplits: 1)
            if p.count == 2 { out[String(p[0])] = String(p[1]) }
        }
        return out
    }
}

/// A shard's results, `DIR/shards/I-of-N.tsv`: one line `CELL<TAB>KEY<TAB>VALUE` per statistic of
/// each of its cells (the values as summary.json has them), written at once when the shard has
/// run all its cells, so that a file present is a shard complete. `ast sweep collect` merges them.
public enum SweepShardFile {
    /// The file's name for shard `index` of `count`.
    public static func name(_ index: Int, of count: Int) -> String { "\(index)-of-\(count).tsv" }

    /// The text of `rows` (cell index, statistics as ordered key and value).
    public static func text(_ rows: [(cell: Int, statistics: [(key: String, value: String)])]) -> String {
        var out = ""
        for r in rows {
            for (k, v) in r.statistics { out += "\(r.cell)\t\(k)\t\(v)\n" }
        }
        return out
    }

    /// The statistics by cell index of a shard file's text; a line that is not
    /// `CELL<TAB>KEY<TAB>VALUE` with a cell number is skipped (a collect then names its cell missing).
    public static func parse(_ text: String) -> [Int: [String: String]] {
        var out: [Int: [String: String]] = [:]
        for line in text.split(separator: "\n") {
            let p = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard p.count == 3, let cell = Int(p[0]), cell >= 0 else { continue }
            out[cell, default: [:]][String(p[1])] = String(p[2])
        }
        return out
    }
}

extension BacktestFiles {
    /// The statistics as (key, JSON value) pairs in summary.json's order: a sweep's row.
    public static func statisticsPairs(_ s: BacktestStatistics) -> [(key: String, value: String)] {
        rows(s).map { ($0.key, $0.json) }
    }

    /// statistics.tsv: `key<TAB>value` per statistic, the values as summary.json has them.
    public static func statisticsTSV(_ s: BacktestStatistics) -> String {
        rows(s).map { "\($0.key)\t\($0.json)\n" }.joined()
    }
}

/// A sweep that cannot run as asked; the text names the option and what is accepted.
public struct SweepError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }

    func replacingAll(_ a: Character, _ b: String) -> String {
        var out = ""
        for c in self { if c == a { out += b } else { out.append(c) } }
        return out
    }
}
