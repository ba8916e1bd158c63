import ASTCore
import ASTMessages
import ASTRuntime

/// One position as the dashboard and `/api/v1/positions` show it: the broker's holding with the
/// protective stop and the target that work on it.
public struct PositionView: Codable, Sendable, Equatable {
    public var symbol: String
    public var quantity: Int64
    public var averagePrice: String
    /// The working stop loss's trigger price, nil when none works (an unprotected position).
    public var stop: String?
    /// Shares the working stops cover.
    public var stopQuantity: Int64
    /// The working take-profit's limit price, nil when none works.
    public var target: String?

    enum CodingKeys: String, CodingKey {
        case symbol, quantity, stop, target
        case averagePrice = "average_price"
        case stopQuantity = "stop_quantity"
    }

    /// The positions of a broker's account, each with its stop and target from the open orders.
    public static func from(_ state: BrokerAccountState) -> [PositionView] {
        state.positions.map { p in
            let closing = state.openOrders.filter { $0.spec.symbol == p.symbol && $0.spec.side != (p.quantity.shares >= 0 ? .buy : .sell) }
            let stops = closing.filter { $0.spec.type == .stop || $0.spec.leg == .stopLoss }
            let targets = closing.filter { $0.spec.leg == .takeProfit }
            var covered: Int64 = 0
            for s in stops {
                let (sum, overflow) = covered.addingReportingOverflow(max(0, s.workingQuantity.shares))
                covered = overflow ? .max : sum
            }
            return PositionView(
                symbol: p.symbol.rawValue, quantity: p.quantity.shares, averagePrice: p.averagePrice.description,
                stop: stops.first?.spec.stopPrice?.description, stopQuantity: covered,
                target: targets.first.flatMap { $0.spec.limitPrice?.description })
        }
    }
}

/// One open order as `/api/v1/orders` shows it.
public struct OrderView: Codable, Sendable, Equatable {
    public var clientOrderID: String
    public var symbol: String
    public var side: String
    public var leg: String
    public var type: String
    public var quantity: Int64
    public var workingQuantity: Int64
    public var filledQuantity: Int64
    public var limitPrice: String?
    public var stopPrice: String?
    public var status: String

    enum CodingKeys: String, CodingKey {
        case symbol, side, leg, type, quantity, status
        case clientOrderID = "client_order_id"
        case workingQuantity = "working_quantity"
        case filledQuantity = "filled_quantity"
        case limitPrice = "limit_price"
        case stopPrice = "stop_price"
    }

    public init(_ o: BrokerOrder) {
        clientOrderID = o.spec.clientOrderID.rawValue
        symbol = o.spec.symbol.rawValue
        side = o.spec.side.rawValue
        leg = o.spec.leg.rawValue
        type = o.spec.type.rawValue
        quantity = o.spec.quantity.shares
        workingQuantity = o.workingQuantity.shares
        filledQuantity = o.filledQuantity.shares
        limitPrice = o.spec.limitPrice?.description
        stopPrice = o.spec.stopPrice?.description
        status = o.status.rawValue
    }
}

/// One execution as the fills table, its live updates and `/api/v1/orders` show it.
public struct FillView: Codable, Sendable, Equatable {
    public var executionID: String
    public var clientOrderID: String
    public var symbol: String
    public var side: String
    public var quantity: Int64
    public var price: String
    public var at: String

    enum CodingKeys: String, CodingKey {
        case symbol, side, quantity, price, at
        case executionID = "execution_id"
        case clientOrderID = "client_order_id"
    }

    public init(_ f: Fill) {
        executionID = f.executionID.rawValue
        clientOrderID = f.clientOrderID.rawValue
        symbol = f.symbol.rawValue
        side = f.side.rawValue
        quantity = f.quantity.shares
        price = f.price.description
        at = f.at.description
    }
}

/// One point of the equity curve: a trading day's closing equity and its drawdown from the peak.
public struct EquityPoint: Codable, Sendable, Equatable {
    public var date: String
    public var equity: String
    /// Percent below the highest close so far (0 at a new peak).
    public var drawdownPct: Double

    enum CodingKeys: String, CodingKey {
        case date, equity
        case drawdownPct = "drawdown_pct"
    }

    /// Points from (date, equity) pairs, with the running drawdown.
    public static func series(_ days: [(date: String, equity: Money)]) -> [EquityPoint] {
        var peak: Double?
        return days.map { day in
            let value = day.equity.doubleValue
            peak = max(peak ?? value, value)
            let dd = (peak ?? 0) > 0 ? ((peak! - value) / peak!) * 100 : 0
            return EquityPoint(date: day.date, equity: day.equity.description, drawdownPct: (dd * 100).rounded() / 100)
        }
    }
}

extension Money {
    /// For drawing only: never for arithmetic that decides anything.
    var doubleValue: Double { Double(units) / Double(Money.unitsPerDollar) }
}

/// Draws the equity curve and the drawdown as an SVG, server-side: no script, nothing from
/// another origin, presentation attributes only (the Content-Security-Policy allows no inline style).
public enum EquityChart {
    public static func svg(_ points: [EquityPoint], width: Int = 760, height: Int = 260) -> String {
        let w = Double(width), h = Double(height), pad = 40.0
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"equity-chart\" width=\"\(width)\" height=\"\(height)\" "
        out += "viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"equity curve\">"
        out += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\" stroke=\"#cccccc\"/>"
        let values = points.compactMap { Double($0.equity) }
        guard values.count == points.count, let lo = values.min(), let hi = values.max(), !values.isEmpty else {
            return out + "<text x=\"20\" y=\"40\" fill=\"#333333\">no end-of-day equity yet</text></svg>"
        }
        let span = hi - lo > 0 ? hi - lo : 1
        func x(_ i: Int) -> Double { points.count == 1 ? w / 2 : pad + Double(i) * (w - 2 * pad) / Double(points.count - 1) }
        func y(_ v: Double) -> Double { h - pad - (v - lo) / span * (h - 2 * pad) }
        let maxDD = max(points.map(\.drawdownPct).max() ?? 0, 0.01)
        func yDD(_ d: Double) -> Double { pad + d / maxDD * (h - 2 * pad) / 3 }
        let line = values.enumerated().map { "\(fmt(x($0.offset))),\(fmt(y($0.element)))" }.joined(separator: " ")
        let dd = points.enumerated().map { "\(fmt(x($0.offset))),\(fmt(yDD($0.element.drawdownPct)))" }.joined(separator: " ")
        out += "<polyline id=\"drawdown-line\" points=\"\(dd)\" fill=\"none\" stroke=\"#d9534f\" stroke-width=\"1.5\"/>"
        out += "<polyline id=\"equity-line\" points=\"\(line)\" fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2.5\"/>"
        out += "<text x=\"\(Int(pad))\" y=\"20\" fill=\"#1f6feb\">equity \(Html.escape(points.first!.equity)) to "
        out += "\(Html.escape(points.last!.equity)) (\(points.count) day\(points.count == 1 ? "" : "s"))</text>"
        out += "<text x=\"\(Int(pad))\" y=\"\(height - 10)\" fill=\"#d9534f\">max drawdown \(fmt(maxDD == 0.01 ? 0 : maxDD))%</text>"
        return out + "</svg>"
    }

    static func fmt(_ d: Double) -> String { String(Double(Int((d * 10).rounded())) / 10) }
}

/// HTML text escaping: every value from a peer or a journal goes through it.
public enum Html {
    /// `s` escaped for element text and quoted attributes (``HTMLText/escape(_:)``).
    public static func escape(_ s: String) -> String { HTMLText.escape(s) }

    /// A table with a header row; cells are escaped.
    static func table(id: String, _ header: [String], _ rows: [[String]], bodyID: String? = nil, empty: String) -> String {
        var out = "<table id=\"\(id)\"><thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead>"
        out += "<tbody\(bodyID.map { " id=\"\($0)\"" } ?? "")>"
        if rows.isEmpty { out += "<tr class=\"empty\"><td colspan=\"\(header.count)\">\(escape(empty))</td></tr>" }
        for r in rows { out += "<tr>" + r.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }
        return out + "</tbody></table>"
    }
}

/// The dashboard's pages, rendered server-side from the same values the JSON API returns.
public enum WebPages {
    static let nav: [(String, String)] = [
        ("/", "Tree"), ("/positions", "Positions"), ("/intents", "Intents"), ("/fills", "Fills"), ("/equity", "Equity"),
        ("/alerts", "Alerts"), ("/timeline", "Timeline"), ("/reports", "Reports"),
    ]

    static func page(_ title: String, _ body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>AST · \(Html.escape(title))</title>
        <link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script></head>
        <body><header><strong>AST</strong> <nav>\(nav.map { "<a href=\"\($0.0)\">\($0.1)</a>" }.joined(separator: " "))</nav>
        <span id="live">live: connecting</span></header><main><h1>\(Html.escape(title))</h1>
        \(body)</main></body></html>
        """
    }

    static func safeModeBlock(_ s: RiskStatusReport?) -> String {
        guard let s else {
            return "<p class=\"safe\">Safe Mode: <span id=\"safe-mode\" class=\"state-UNKNOWN\">UNKNOWN</span> "
                + "<span id=\"safe-mode-cause\">the risk gate did not answer</span></p>"
        }
        var cause = "\(s.cause) since \(s.since)"
        if !s.downBrokers.isEmpty { cause += "; brokers down: \(s.downBrokers.joined(separator: ", "))" }
        return "<p class=\"safe\">Safe Mode: <span id=\"safe-mode\" class=\"state-\(s.state.rawValue)\">\(s.state.rawValue)</span> "
            + "<span id=\"safe-mode-cause\">\(Html.escape(cause))</span></p>"
    }

    /// The tree: each process, Safe Mode, the reconciliation and notifier lines, and the actions.
    public static func tree(_ status: TreeStatus?, error: String?, actionsEnabled: Bool) -> String {
        var body = ""
        guard let status else {
            return page("Tree", "<p class=\"error\">astd did not answer: \(Html.escape(error ?? "unknown"))</p>" + safeModeBlock(nil))
        }
        body += "<p>Tree <strong id=\"tree-state\">\(Html.escape(status.state))</strong> (\(Html.escape(status.summary))), astd pid "
        body += "\(status.supervisorPID), as of \(Html.escape(status.now.description))</p>"
        body += safeModeBlock(status.safeMode)
        let rows = status.children.map { c -> [String] in
            [
                c.name, c.state, c.ready ? "yes" : "no", c.pid.map(String.init) ?? "-",
                c.uptimeSeconds.map { StatusFormat.duration($0) } ?? "-", String(c.restarts), c.lastExit ?? "-",
                c.lastWatchdogPing?.description ?? "-", c.onCrash, c.statusText ?? "",
            ]
        }
        body += Html.table(
            id: "processes", ["process", "state", "ready", "pid", "uptime", "restarts", "last exit", "watchdog", "on crash", "status"],
            rows,
            empty: "no processes")
        if let r = status.reconciliation {
            let outcome = !r.completed ? "INCOMPLETE" : r.requiresHalt ? "MISMATCH" : r.clean ? "clean" : "repaired"
            body += "<p id=\"reconciliation\">Reconciliation: \(outcome) at \(Html.escape(r.at.description)) (\(Html.escape(r.trigger))) "
            body += "against \(Html.escape(r.broker)): \(Html.escape(r.summary))</p>"
        } else {
            body += "<p id=\"reconciliation\">Reconciliation: none reported</p>"
        }
        if let n = status.notifier {
            body += "<p id=\"notifier\">Notifier: \(n.pending) pending (\(n.pendingP0) P0), \(n.delivered) delivered, "
            body += "\(n.abandoned) refused; Telegram delivery \(n.deliveryEnabled ? "on" : "OFF")</p>"
        } else {
            body += "<p id=\"notifier\">Notifier: unknown (ast-notifier did not answer)</p>"
        }
        body += actions(enabled: actionsEnabled)
        return page("Tree", body)
    }

    static func actions(enabled: Bool) -> String {
        guard enabled else {
            return
                "<section id=\"actions\"><h2>Actions</h2><p>Read-only: no <code>ast_web_token</code> credential is configured.</p></section>"
        }
        func form(_ action: String, _ extra: String) -> String {
            "<form class=\"action\" action=\"/api/v1/\(action)\" method=\"post\"><input name=\"token\" type=\"password\" "
                + "placeholder=\"token\" autocomplete=\"off\" required> \(extra) <button type=\"submit\">\(action)</button></form>"
        }
        return "<section id=\"actions\"><h2>Actions</h2>"
            + form("halt", "<input name=\"reason\" placeholder=\"reason\" required>")
            + form("resume", "<select name=\"to\"><option>active</option><option>reducing</option></select>")
            + form("reconcile", "<input name=\"reason\" placeholder=\"reason\">")
            + "<pre id=\"action-result\"></pre></section>"
    }

    public static func positions(_ positions: [PositionView], orders: [OrderView], broker: String, answered: Bool) -> String {
        var body = answered ? "" : "<p class=\"error\">\(Html.escape(broker)) did not answer.</p>"
        body += "<h2>Positions</h2>"
        body += Html.table(
            id: "positions", ["symbol", "quantity", "average price", "stop", "stop covers", "target"],
            positions.map {
                [$0.symbol, String($0.quantity), $0.averagePrice, $0.stop ?? "NONE", String($0.stopQuantity), $0.target ?? "-"]
            },
            empty: "no positions")
        body += "<h2>Open orders</h2>"
        body += Html.table(
            id: "orders", ["order", "symbol", "side", "leg", "type", "qty", "working", "filled", "limit", "stop", "status"],
            orders.map {
                [
                    $0.clientOrderID, $0.symbol, $0.side, $0.leg, $0.type, String($0.quantity), String($0.workingQuantity),
                    String($0.filledQuantity), $0.limitPrice ?? "-", $0.stopPrice ?? "-", $0.status,
                ]
            }, empty: "no open orders")
        return page("Positions", body)
    }

    public static func fills(_ fills: [FillView], answered: Bool) -> String {
        var body = answered ? "" : "<p class=\"error\">the broker did not answer.</p>"
        body += Html.table(
            id: "fills", ["at", "symbol", "side", "quantity", "price", "execution"],
            fills.reversed().map { [$0.at, $0.symbol, $0.side, String($0.quantity), $0.price, $0.executionID] }, bodyID: "fills-body",
            empty: "no fills yet")
        return page("Fills", body)
    }

    public static func equity(_ points: [EquityPoint], error: String?) -> String {
        var body = error.map { "<p class=\"error\">\(Html.escape($0))</p>" } ?? ""
        body += EquityChart.svg(points)
        var previous: Double?
        let rows = points.map { p -> [String] in
            let v = Double(p.equity) ?? 0
            defer { previous = v }
            return [p.date, p.equity, previous.map { String(format: "%.2f", v - $0) } ?? "-", String(format: "%.2f%%", p.drawdownPct)]
        }
        body +=
            "<h2>Daily P&amp;L</h2>"
            + Html.table(id: "daily", ["date", "equity", "P&L", "drawdown"], rows.reversed(), empty: "no days yet")
        return page("Equity", body)
    }

    public static func alerts(_ n: NotifierStatusReport?) -> String {
        guard let n else { return page("Alerts", "<p id=\"alerts\">ast-notifier did not answer.</p>") }
        var body = "<ul id=\"alerts\"><li>pending: \(n.pending) (P0: \(n.pendingP0))</li><li>delivered: \(n.delivered)</li>"
        body += "<li>abandoned (refused by Telegram): \(n.abandoned)</li><li>Telegram delivery: \(n.deliveryEnabled ? "on" : "OFF")</li>"
        if let e = n.lastError { body += "<li>last error: \(Html.escape(e))</li>" }
        return page("Alerts", body + "</ul>")
    }
}
