import ASTCalendar
import ASTCore

extension RunReport {
    /// The report for a reader: a summary table, then the final positions, Safe Mode,
    /// reconciliations, problems and a section per day. Money and prices as fixed-point strings.
    public var markdown: String {
        var out: [String] = []
        func time(_ t: Timestamp?) -> String { t.map(NewYorkTime.format) ?? "—" }
        func money(_ m: Money?) -> String { m?.description ?? "—" }
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

        let t = totals
        out.append("# AST run report")
        out.append("")
        out.append("State directory `\(stateDirectory)`; mode \(mode ?? "unknown"); \(time(period.firstMarketTime)) to \(time(period.lastMarketTime))"
            + (period.replayFinished ? " (replay finished)." : "."))
        out.append("")
        out.append("| Summary | |")
        out.append("|---|---|")
        out.append("| Sessions | \(t.sessions)\(period.sessions.isEmpty ? "" : " (\(period.sessions.first!) to \(period.sessions.last!))") |")
        out.append("| Candidates | \(t.candidates) |")
        out.append("| Intents | \(t.intents) |")
        out.append("| Approved / downgraded / blocked | \(t.approved) / \(t.downgraded) / \(t.blocked) |")
        if !t.blockedByReason.isEmpty {
            out.append("| Blocked by reason | \(t.blockedByReason.map { "\($0.reason) \($0.count)" }.joined(separator: ", ")) |")
        }
        out.append("| Orders / fills | \(t.orders) / \(t.fills) |")
        out.append("| Cancelled / expired / rejected | \(t.cancelled) / \(t.expired) / \(t.rejected) |")
        out.append("| Realised P&L (gross) | \(t.realizedPnL) |")
        out.append("| Unrealised P&L | \(t.unrealizedPnL) |")
        out.append("| Commissions | \(t.commissions) |")
        out.append("| Equity start / end / peak | \(money(t.equityStart)) / \(money(t.equityEnd)) / \(money(t.equityPeak)) |")
        out.append("| Max drawdown | \(t.maxDrawdown)\(t.maxDrawdownPct.map { " (\($0)%)" } ?? "") |")
        out.append("| Open positions | \(finalPositions.count) |")
        out.append("| Safe Mode now | \(safeModeNow ?? "unknown") |")
        out.append("| Last reconciliation | \(reconciliations.last.map { "\($0.outcome) at \(time($0.at)) (\(cell($0.trigger)))" } ?? "none") |")
        out.append("| Problems | \(problems.count) |")

        out.append("")
        out.append("## Final positions")
        out.append("")
        if finalPositions.isEmpty {
            out.append("Flat: no open positions.")
        } else {
            out.append("| Symbol | Qty | Avg price | Mark | Unrealised P&L | Stop |")
            out.append("|---|---:|---:|---:|---:|---|")
            for p in finalPositions {
                let stop = p.protectedByStop.map { $0 ? "working" : "**NONE**" } ?? "?"
                out.append("| \(p.symbol) | \(p.quantity) | \(p.averagePrice) | \(p.mark?.description ?? "—") | \(money(p.unrealizedPnL)) | \(stop) |")
            }
        }

        out.append("")
        out.append("## Safe Mode")
        out.append("")
        out.append("Now: \(safeModeNow ?? "unknown").")
        if !safeModeTransitions.isEmpty {
            out.append("")
            out.append("| At | From | To | Cause |")
            out.append("|---|---|---|---|")
            for s in safeModeTransitions { out.append("| \(time(s.at)) | \(s.from) | \(s.to) | \(cell(s.cause)) |") }
        }

        out.append("")
        out.append("## Reconciliations")
        out.append("")
        if reconciliations.isEmpty { out.append("None.") }
        for r in reconciliations {
            out.append("- \(time(r.at)) \(r.trigger) against \(r.broker): **\(r.outcome)**: \(r.summary)")
            for f in r.findings { out.append("  - finding: \(f)") }
            for f in r.repairs { out.append("  - repair: \(f)") }
        }

        out.append("")
        out.append("## Problems")
        out.append("")
        if problems.isEmpty { out.append("None: every journal verified.") }
        for p in problems { out.append("- \(p)") }

        for d in days { out += Self.markdown(d, time: time, cell: cell) }
        out.append("")
        return out.joined(separator: "\n")
    }

    static func markdown(_ d: DayReport, time: (Timestamp?) -> String, cell: (String) -> String) -> [String] {
        var out = ["", "## \(d.date)", ""]
        let c = d.candidates.count, i = d.intents.count, f = d.fills.count
        out.append("\(c) candidate\(c == 1 ? "" : "s"), \(i) intent\(i == 1 ? "" : "s"), \(d.orders.count) order legs, \(f) fill\(f == 1 ? "" : "s").")
        if !d.candidates.isEmpty {
            out.append("")
            out.append("Candidates: " + d.candidates.map { "\($0.symbol) (\($0.detector))" }.joined(separator: ", ") + ".")
        }
        if !d.intents.isEmpty {
            let decisions = Dictionary(d.decisions.map { ($0.intent, $0) }, uniquingKeysWith: { _, last in last })
            out += ["", "### Intents and decisions", "", "| Intent | Symbol | Side | Qty | Entry | Stop | Target | Decision |", "|---|---|---|---:|---|---:|---:|---|"]
            for x in d.intents {
                var decision = "—"
                if let dec = decisions[x.id] {
                    decision = dec.outcome
                    if let q = dec.quantity, dec.outcome == "downgraded" { decision += " to \(q)" }
                    if let r = dec.reason { decision += " \(r)" }
                }
                out.append("| \(x.id) | \(x.symbol) | \(x.side) | \(x.quantity) | \(x.entry) | \(x.stop?.description ?? "—") | \(x.target?.description ?? "—") | \(decision) |")
            }
        }
        if !d.orders.isEmpty {
            out += ["", "### Orders", "", "| Order | Symbol | Leg | Side | Type | Qty | Filled | Avg fill | Status |", "|---|---|---|---|---|---:|---:|---:|---|"]
            for o in d.orders {
                out.append("| \(o.id) | \(o.symbol) | \(o.leg) | \(o.side) | \(o.type) | \(o.quantity) | \(o.filledQuantity) | \(o.averageFillPrice?.description ?? "—") | \(o.status) |")
            }
        }
        if !d.fills.isEmpty {
            out += ["", "### Fills", "", "| At | Execution | Order | Side | Qty | Symbol | Price | Commission |", "|---|---|---|---|---:|---|---:|---:|"]
            for x in d.fills {
                out.append("| \(time(x.at)) | \(x.executionID) | \(x.order) | \(x.side) | \(x.quantity) | \(x.symbol) | \(x.price) | \(x.commission) |")
            }
        }
        if let e = d.endOfDay {
            out += ["", "End of day (\(time(e.at))): equity \(e.equity), cash \(e.cash)"
                + (e.positions.isEmpty ? ", flat." : ", positions: " + e.positions.map { "\($0.symbol) \($0.quantity) @ \($0.averagePrice)" }.joined(separator: ", ") + ".")]
        }
        return out
    }
}

extension RunReport {
    /// A few lines for a terminal: sessions, intents, fills, positions, P&L, Safe Mode, the last reconciliation.
    public var summaryLines: [String] {
        let t = totals
        let last = reconciliations.last.map { "\($0.outcome) at \(NewYorkTime.format($0.at)) (\($0.trigger))" } ?? "none"
        let unprotected = finalPositions.filter { $0.protectedByStop == false }.count
        return [
            "sessions: \(t.sessions)\(period.sessions.isEmpty ? "" : " (\(period.sessions.first!) to \(period.sessions.last!))"), mode \(mode ?? "unknown")",
            "intents: \(t.intents), approved \(t.approved), downgraded \(t.downgraded), blocked \(t.blocked)",
            "orders: \(t.orders), fills \(t.fills), cancelled \(t.cancelled), expired \(t.expired)",
            "open positions: \(finalPositions.count)\(unprotected > 0 ? " (\(unprotected) WITHOUT a working stop)" : "")",
            "P&L: realised \(t.realizedPnL), unrealised \(t.unrealizedPnL), commissions \(t.commissions), equity \(t.equityEnd?.description ?? "?")",
            "Safe Mode now: \(safeModeNow ?? "unknown")",
            "last reconciliation: \(last)",
        ] + (problems.isEmpty ? [] : ["PROBLEMS: \(problems.count) (see the report)"])
    }
}
