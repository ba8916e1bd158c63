import ASTCore
import ASTJournal
import ASTMessages
import ASTReplay
import Foundation
import Hummingbird

/// One intent the risk gate received, with the gate's decision and its reason code, as
/// `/intents` and `/api/v1/intents` show it.
public struct IntentDecisionView: Codable, Sendable, Equatable {
    public var intentID: String
    public var date: String
    public var symbol: String
    public var side: String
    public var quantity: Int64
    public var entry: String
    public var stop: String?
    public var target: String?
    /// `approve`, `downgrade`, `block`, or `pending` (received, no decision journaled yet).
    public var decision: String
    /// The rule that downgraded or blocked it (`NOTIONAL_EXCEEDS_MAX_PER_ORDER` ...).
    public var reasonCode: String?
    public var detail: String?
    public var approvedQuantity: Int64?
    public var decidedAt: String?

    enum CodingKeys: String, CodingKey {
        case date, symbol, side, quantity, entry, stop, target, decision, detail
        case intentID = "intent_id"
        case reasonCode = "reason_code"
        case approvedQuantity = "approved_quantity"
        case decidedAt = "decided_at"
    }
}

/// What ast-web reads from the journals, read-only (as `astctl replay` and `astctl report` do).
public enum JournalViews {
    /// The intents of `date` (default: the newest date the risk gate's journals hold, i.e. today
    /// while a session runs) with their decisions, and every date there is.
    public static func intents(journalDirectory: String, date: String?) throws -> (
        dates: [String], date: String?, rows: [IntentDecisionView]
    ) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: journalDirectory)) ?? []
        let decoder = JSONDecoder()
        var rows: [String: IntentDecisionView] = [:]
        var order: [String] = []
        for name in names.sorted() where name.hasPrefix("risk@") && name.hasSuffix(".sqlite") {
            let reader = try JournalReader(path: journalDirectory + "/" + name, label: "ast-web")
            try reader.scan(fromSeq: 1, types: [EntryTypes.Risk.input, EntryTypes.Risk.decision]) { entry in
                let body = Data(entry.record.body)
                if entry.record.type == EntryTypes.Risk.input {
                    guard let input = try? decoder.decode(RiskInput.self, from: body), case .intent(let g) = input else { return true }
                    let id = g.id.rawValue
                    if rows[id] == nil { order.append(id) }
                    var row = rows[id] ?? Self.row(g)
                    row.symbol = g.symbol.rawValue
                    rows[id] = row
                } else if let d = try? decoder.decode(IntentDecision.self, from: body) {
                    let id = d.intent.rawValue
                    if rows[id] == nil {
                        order.append(id)
                        rows[id] = IntentDecisionView(
                            intentID: id, date: Self.date(of: id, at: d.at), symbol: Timeline.symbol(ofChain: id) ?? "", side: "",
                            quantity: 0,
                            entry: "", decision: "pending")
                    }
                    rows[id]?.decidedAt = d.at.description
                    switch d.decision {
                    case .approve(let a):
                        rows[id]?.decision = "approve"
                        rows[id]?.approvedQuantity = a.quantity.shares
                    case .downgrade(let a, let rule, let detail):
                        rows[id]?.decision = "downgrade"
                        rows[id]?.approvedQuantity = a.quantity.shares
                        rows[id]?.reasonCode = rule.rawValue
                        rows[id]?.detail = String(detail.prefix(500))
                    case .block(let code, let detail):
                        rows[id]?.decision = "block"
                        rows[id]?.reasonCode = code.rawValue
                        rows[id]?.detail = String(detail.prefix(500))
                    }
                }
                return true
            }
        }
        let all = order.compactMap { rows[$0] }
        let dates = Array(Set(all.map(\.date))).sorted()
        let chosen = date ?? dates.last
        return (dates, chosen, all.filter { $0.date == chosen })
    }

    static func row(_ g: IntentGroup) -> IntentDecisionView {
        IntentDecisionView(
            intentID: g.id.rawValue, date: date(of: g.id.rawValue, at: g.createdAt), symbol: g.symbol.rawValue, side: g.side.rawValue,
            quantity: g.quantity.shares, entry: g.entry.description, stop: g.stopLoss?.description, target: g.takeProfit?.description,
            decision: "pending")
    }

    /// The date an intent id starts with (`2025-07-01.breakout.AAPL`), else the UTC date of `at`.
    static func date(of id: String, at: Timestamp) -> String {
        let head = String(id.prefix(10))
        if Timeline.chainKey(id) != nil { return head }
        return String(at.description.prefix(10))
    }

    /// The most events one timeline page or answer lists (a busy symbol's chain stays far below).
    public static let timelineLimit = 2000

    /// The merged timeline of one correlation id (an intent, approval, client order or execution
    /// id, or a symbol), as `astctl replay --correlation` prints it.
    public static func timeline(journalDirectory: String, correlation: String) throws -> (events: [TimelineEvent], truncated: Bool) {
        let directory = try JournalDirectory(path: journalDirectory)
        let events = try Timeline.build(directory, filter: TimelineFilter(correlation: correlation)).events
        return (Array(events.prefix(timelineLimit)), events.count > timelineLimit)
    }

    /// A correlation id as the page accepts it: 1 ... 200 bytes of letters, digits and `._:@-`.
    public static func validCorrelation(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 200
            && s.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._:@-".unicodeScalars.contains($0)
            }
    }

    /// A date as `?date=` accepts it: `YYYY-MM-DD`.
    public static func validDate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        return b.count == 10 && b.enumerated().allSatisfy { i, c in (i == 4 || i == 7) ? c == UInt8(ascii: "-") : (48...57).contains(c) }
    }
}

/// One timeline event in `/api/v1/timeline`.
struct TimelineEventView: Codable, Sendable {
    var ts: Int64
    var time: String
    var process: String
    var seq: Int64
    var kind: String
    var type: String
    var chain: String?
    var symbol: String?
    var summary: String

    init(_ e: TimelineEvent) {
        ts = e.timestamp.nanoseconds
        time = e.timestamp.description
        process = e.process
        seq = e.seq
        kind = e.kind.rawValue
        type = e.type
        chain = e.chain ?? e.correlationID
        symbol = e.symbol
        summary = String(e.summary.prefix(1000))
    }
}

struct IntentsResponse: Codable, Sendable {
    var date: String?
    var dates: [String]
    var intents: [IntentDecisionView]
}

struct TimelineResponse: Codable, Sendable {
    var correlation: String
    var events: [TimelineEventView]
    var truncated: Bool
}

extension WebServer {
    var journalDirectory: String { stateDir + "/journal" }

    func addJournalPages(_ router: Router<BasicRequestContext>) {
        router.get("/intents") { request, _ in
            let asked = request.uri.queryParameters.get("date")
            if let asked, !JournalViews.validDate(asked) {
                return Self.html(WebPages.intents(nil, error: "date must be YYYY-MM-DD"))
            }
            do {
                return Self.html(WebPages.intents(try JournalViews.intents(journalDirectory: journalDirectory, date: asked), error: nil))
            } catch {
                return Self.html(WebPages.intents(nil, error: "the risk gate's journal could not be read: \(error)"))
            }
        }
        router.get("/timeline") { request, _ in
            guard let id = request.uri.queryParameters.get("correlation"), !id.isEmpty else {
                return Self.html(WebPages.timeline(correlation: nil, nil, error: nil))
            }
            guard JournalViews.validCorrelation(id) else {
                return Self.html(WebPages.timeline(correlation: nil, nil, error: "a correlation id is 1 to 200 letters, digits and ._:@-"))
            }
            do {
                return Self.html(
                    WebPages.timeline(
                        correlation: id, try JournalViews.timeline(journalDirectory: journalDirectory, correlation: id), error: nil))
            } catch {
                return Self.html(WebPages.timeline(correlation: id, nil, error: "the journals could not be read: \(error)"))
            }
        }
    }

    func addJournalAPI(_ api: RouterGroup<BasicRequestContext>) {
        api.get("intents") { request, _ in
            let asked = request.uri.queryParameters.get("date")
            if let asked, !JournalViews.validDate(asked) { return Self.problem("date must be YYYY-MM-DD", status: .badRequest) }
            do {
                let r = try JournalViews.intents(journalDirectory: journalDirectory, date: asked)
                return Self.json(IntentsResponse(date: r.date, dates: r.dates, intents: r.rows))
            } catch {
                return Self.problem("the risk gate's journal could not be read: \(error)", status: .serviceUnavailable)
            }
        }
        api.get("timeline") { request, _ in
            guard let id = request.uri.queryParameters.get("correlation"), JournalViews.validCorrelation(id) else {
                return Self.problem(
                    "correlation: 1 to 200 letters, digits and ._:@- (an intent, approval or order id)", status: .badRequest)
            }
            do {
                let t = try JournalViews.timeline(journalDirectory: journalDirectory, correlation: id)
                return Self.json(TimelineResponse(correlation: id, events: t.events.map(TimelineEventView.init), truncated: t.truncated))
            } catch {
                return Self.problem("the journals could not be read: \(error)", status: .serviceUnavailable)
            }
        }
    }
}

extension WebPages {
    /// Today's intents and the risk gate's decisions with their reason codes.
    public static func intents(_ r: (dates: [String], date: String?, rows: [IntentDecisionView])?, error: String?) -> String {
        var body = error.map { "<p class=\"error\">\(Html.escape($0))</p>" } ?? ""
        if let r {
            body +=
                "<p id=\"intents-date\">Trading day \(Html.escape(r.date ?? "none yet")) (the newest in the risk gate's journal unless chosen)</p>"
            if !r.dates.isEmpty {
                body +=
                    "<p class=\"dates\">" + r.dates.suffix(30).map { "<a href=\"/intents?date=\($0)\">\($0)</a>" }.joined(separator: " ")
                    + "</p>"
            }
            let counts = Dictionary(grouping: r.rows, by: \.decision).mapValues(\.count)
            body +=
                "<p id=\"intents-summary\">\(r.rows.count) intents: "
                + ["approve", "downgrade", "block", "pending"].map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", ") + "</p>"
            body +=
                "<table id=\"intents\"><thead><tr>"
                + ["intent", "symbol", "side", "qty", "entry", "stop", "target", "decision", "reason code", "detail", "approved qty"]
                .map { "<th>\($0)</th>" }.joined() + "</tr></thead><tbody>"
            if r.rows.isEmpty { body += "<tr class=\"empty\"><td colspan=\"11\">no intents on this day</td></tr>" }
            for row in r.rows {
                let link = "/timeline?correlation=" + (row.intentID.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
                body += "<tr><td><a href=\"\(Html.escape(link))\">\(Html.escape(row.intentID))</a></td>"
                body += [
                    row.symbol, row.side, String(row.quantity), row.entry, row.stop ?? "-", row.target ?? "-",
                ].map { "<td>\(Html.escape($0))</td>" }.joined()
                body += "<td class=\"decision-\(Html.escape(row.decision))\">\(Html.escape(row.decision))</td>"
                body +=
                    [row.reasonCode ?? "-", row.detail ?? "", row.approvedQuantity.map(String.init) ?? "-"]
                    .map { "<td>\(Html.escape($0))</td>" }.joined() + "</tr>"
            }
            body += "</tbody></table>"
        }
        return page("Intents", body)
    }

    /// The replay timeline of one correlation id, with the form that asks for one.
    public static func timeline(correlation: String?, _ t: (events: [TimelineEvent], truncated: Bool)?, error: String?) -> String {
        var body = "<form id=\"timeline-form\" action=\"/timeline\" method=\"get\"><input name=\"correlation\" "
        body += "placeholder=\"intent, approval or order id\" value=\"\(Html.escape(correlation ?? ""))\" size=\"40\" required> "
        body += "<button type=\"submit\">show</button></form>"
        body += error.map { "<p class=\"error\">\(Html.escape($0))</p>" } ?? ""
        if let correlation, let t {
            body += "<p id=\"timeline-summary\">\(t.events.count) events for \(Html.escape(correlation))"
            body += t.truncated ? " (the first \(JournalViews.timelineLimit) only)" : ""
            body += ", from every journal (as <code>astctl replay --correlation</code>)</p>"
            body += Html.table(
                id: "timeline", ["time (UTC)", "process", "kind", "chain", "summary"],
                t.events.map { [$0.timestamp.description, $0.process, $0.kind.rawValue, $0.chain ?? $0.correlationID ?? "-", $0.summary] },
                empty: "no journal entry belongs to this id")
        } else if correlation == nil, error == nil {
            body += "<p>Give an intent id (<code>2025-07-01.breakout.AAPL</code>), an approval id or a client order id; "
            body += "<a href=\"/intents\">Intents</a> links each intent to its timeline.</p>"
        }
        return page("Timeline", body)
    }
}
