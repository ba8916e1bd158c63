import ASTCalendar
import ASTCore

extension RunReport {
    /// The report for a reader: a summary table, then the final positions, Safe Mode,
    /// reconciliations (counts, then every finding), problems and a section per day. Money in
    /// dollars with two decimals (`$1,234.57`, see ``ReportFormat/dollars(_:)``); prices and
    /// quantities exact. The JSON form keeps every amount exact.
    public var markdown: String {
        var out: [String] = []
        func time(_ t: Timestamp?) -> String { t.map(NewYorkTime.format) ?? "—" }
        func money(_ m: Money?) -> String { m.map(ReportFormat.dollars) ?? "—" }
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }

        let t = totals
        out.append("# AST run report")
        out.append("")
        out.append(
            "State directory `\(stateDirectory)`; mode \(mode ?? "unknown"); \(time(period.firstMarketTime)) to \(time(period.lastMarketTime))"
                + (period.replayFinished ? " (replay finished)." : "."))
        out.append("")
        out.append("| Summary | |")
        out.append("|---|---|")
        out.append(
            "| Sessions | \(t.sessions)\(period.sessions.isEmpty ? "" : " (\(period.sessions.first!) to \(period.sessions.last!))") |")
        out.append("| Candidates | \(t.candidates) |")
        out.append("| Intents | \(t.intents) |")
        out.append("| Approved / downgraded / blocked | \(t.approved) / \(t.downgraded) / \(t.blocked) |")
        if !t.blockedByReason.isEmpty {
            out.append("| Blocked by reason | \(t.blockedByReason.map { "\($0.reason) \($0.count)" }.joined(separator: ", ")) |")
        }
        out.append("| Orders / fills | \(t.orders) / \(t.fills) |")
        out.append("| Cancelled / expired / rejected | \(t.cancelled) / \(t.expired) / \(t.rejected) |")
        out.append("| Realised P&L (gross) | \(money(t.realizedPnL)) |")
        out.append("| Unrealised P&L | \(money(t.unrealizedPnL)) |")
        out.append("| Commissions | \(money(t.commissions)) |")
        out.append("| Equity start / end | \(money(t.equityStart)) / \(money(t.equityEnd)) |")
        out.append("| Equity peak / trough | \(money(t.equityPeak)) / \(money(t.equityTrough)) |")
        out.append("| Max drawdown | \(money(t.maxDrawdown))\(t.maxDrawdownPct.map { " (\($0)%)" } ?? "") |")
        out.append("| Open positions | \(finalPositions.count) |")
        out.append("| Safe Mode now | \(safeModeNow ?? "unknown") |")
        out.append(
            "| Last reconciliation | \(reconciliations.last.map { "\($0.outcome) at \(time($0.at)) (\(cell($0.trigger)))" } ?? "none") |")
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
                out.append(
                    "| \(p.symbol) | \(p.quantity) | \(p.averagePrice) | \(p.mark?.description ?? "—") | \(money(p.unrealizedPnL)) | \(stop) |"
                )
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
        if reconciliations.isEmpty { out.append("None.") } else { out += Self.reconciliationLines(reconciliations, time: time) }

        out.append("")
        out.append("## Problems")
        out.append("")
        if problems.isEmpty { out.append("None: every journal verified.") }
        for p in problems { out.append("- \(p)") }

        for d in days { out += Self.markdown(d, time: time, cell: cell, money: money) }
        out.append("")
        return out.joined(separator: "\n")
    }

    /// Reconciliations as counts (by outcome, by trigger), then one line per reconciliation that
    /// found or repaired anything or did not end clean, with every finding and repair.
    static func reconciliationLines(_ all: [ReconciliationLine], time: (Timestamp?) -> String) -> [String] {
        func counts(_ key: (ReconciliationLine) -> String) -> String {
            var n: [String: Int] = [:]
            for r in all { n[key(r), default: 0] += 1 }
            return n.keys.sorted().map { "\($0) \(n[$0]!)" }.joined(separator: ", ")
        }
        var out = [
            "\(all.count) reconciliation\(all.count == 1 ? "" : "s"): \(counts(\.outcome)).", "",
            "By trigger: \(counts(\.trigger)).",
        ]
        let notable = all.filter { $0.outcome != "clean" || !$0.findings.isEmpty || !$0.repairs.isEmpty }
        out.append("")
        if notable.isEmpty {
            out.append("Every one clean, without findings.")
            return out
        }
        out.append("With findings or repairs, or not clean (\(notable.count)):")
        for r in notable {
            out.append("- \(time(r.at)) \(r.trigger) against \(r.broker): **\(r.outcome)**: \(r.summary)")
            for f in r.findings { out.append("  - finding: \(f)") }
            for f in r.repairs { out.append("  - repair: \(f)") }
        }
        return out
    }

    static func markdown(_ d: DayReport, time: (Timestamp?) -> String, cell: (String) -> String, money: (Money?) -> String) -> [String] {
        var out = ["", "## \(d.date)", ""]
        let c = d.candidates.count, i = d.intents.count, f = d.fills.count
        out.append(
            "\(c) candidate\(c == 1 ? "" : "s"), \(i) intent\(i == 1 ? "" : "s"), \(d.orders.count) order legs, \(f) fill\(f == 1 ? "" : "s")."
        )
        if !d.candidates.isEmpty {
            out.append("")
            out.append("Candidates: " + d.candidates.map { "\($0.symbol) (\($0.detector))" }.joined(separator: ", ") + ".")
        }
        if !d.intents.isEmpty {
            let decisions = Dictionary(d.decisions.map { ($0.intent, $0) }, uniquingKeysWith: { _, last in last })
            out += [
                "", "### Intents and decisions", "", "| Intent | Symbol | Side | Qty | Entry | Stop | Target | Decision |",
                "|---|---|---|---:|---|---:|---:|---|",
            ]
            for x in d.intents {
                var decision = "—"
                if let dec = decisions[x.id] {
                    decision = dec.outcome
                    if let q = dec.quantity, dec.outcome == "downgraded" { decision += " to \(q)" }
                    if let r = dec.reason { decision += " \(r)" }
                }
                out.append(
                    "| \(x.id) | \(x.symbol) | \(x.side) | \(x.quantity) | \(x.entry) | \(x.stop?.description ?? "—") | \(x.target?.description ?? "—") | \(decision) |"
                )
            }
        }
        if !d.orders.isEmpty {
            out += [
                "", "### Orders (state at the end of the day)", "",
                "| Order | Symbol | Leg | Side | Type | Qty | Filled | Avg fill | Status |", "|---|---|---|---|---|---:|---:|---:|---|",
            ]
            for o in d.orders {
                out.append(
                    "| \(o.id) | \(o.symbol) | \(o.leg) | \(o.side) | \(o.type) | \(o.quantity) | \(o.filledQuantity) | \(o.averageFillPrice?.description ?? "—") | \(o.status) |"
                )
            }
        }
        if !d.fills.isEmpty {
            out += [
                "", "### Fills", "", "| At | Execution | Order | Side | Qty | Symbol | Price | Commission |",
                "|---|---|---|---|---:|---|---:|---:|",
            ]
            for x in d.fills {
                out.append(
                    "| \(time(x.at)) | \(x.executionID) | \(x.order) | \(x.side) | \(x.quantity) | \(x.symbol) | \(x.price) | \(money(x.commission)) |"
                )
            }
        }
        if let e = d.endOfDay {
            out += [
                "",
                "End of day (\(time(e.at))): equity \(money(e.equity)), cash \(money(e.cash))"
                    + (e.positions.isEmpty
                        ? ", flat."
                        : ", positions: " + e.positions.map { "\($0.symbol) \($0.quantity) @ \($0.averagePrice)" }.joined(separator: ", ")
                            + "."),
            ]
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
            "P&L: realised \(ReportFormat.dollars(t.realizedPnL)), unrealised \(ReportFormat.dollars(t.unrealizedPnL)),"
                + " commissions \(ReportFormat.dollars(t.commissions)), equity \(t.equityEnd.map(ReportFormat.dollars) ?? "?")",
            "Safe Mode now: \(safeModeNow ?? "unknown")",
            "last reconciliation: \(last)",
        ] + (problems.isEmpty ? [] : ["PROBLEMS: \(problems.count) (see the report)"])
    }
}

/// How reports show values to a reader.
public enum ReportFormat {
    /// Money in dollars with two decimals and thousands separators, rounded half away from zero
    /// to the cent: `$1,234.57`, `-$0.50`. For Markdown and terminals only; JSON keeps the exact
    /// fixed-point string.
    public static func dollars(_ m: Money) -> String {
        let perCent = Money.unitsPerDollar / 100
        let magnitude = m.units.magnitude
        let cents = magnitude / UInt64(perCent) + (magnitude % UInt64(perCent) * 2 >= UInt64(perCent) ? 1 : 0)
        let whole = String(cents / 100)
        var grouped = ""
        for (i, c) in whole.enumerated() {
            if i > 0 && (whole.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(c)
        }
        let fraction = cents % 100
        return (m.units < 0 && cents > 0 ? "-" : "") + "$" + grouped + "." + (fraction < 10 ? "0" : "") + String(fraction)
    }
}
