import ASTCore
import ASTJournal
import ASTMessages
import ASTOperator
import ASTReport
import ASTRuntime
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// ast-web's HTTP side: the pages, the JSON API under `/api/v1`, the live updates at `/events`
/// and the operator actions, on Hummingbird 2, bound where `web:` says (loopback by default).
public struct WebServer: Sendable {
    let config: WebConfig
    let stateDir: String
    let broker: ProcessIdentity
    let op: WebOperator
    let access: WebAccess
    let hub: LiveHub
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let equityCache = EquityCache()

    public init(
        config: WebConfig, stateDir: String, broker: ProcessIdentity, op: WebOperator, access: WebAccess, journal: Journal,
        clock: any WallClock, logger: Logger
    ) {
        self.config = config
        self.stateDir = stateDir
        self.broker = broker
        self.op = op
        self.access = access
        self.hub = LiveHub(op: op, broker: broker, interval: .milliseconds(config.liveIntervalMs), logger: logger)
        self.journal = journal
        self.clock = clock
        self.logger = logger
    }

    /// Serves until the task is cancelled, over `listener` (HTTP or HTTPS); `onListening` gets the
    /// base URL once the port is bound (with the port the kernel chose for `port: 0`).
    public func run(listener: WebListener, onListening: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        let router = Router()
        router.add(middleware: SecurityHeaders())
        addRoutes(router)
        var log = logger
        log.logLevel = .warning
        let (address, scheme) = (config.address, listener.scheme)
        let app = Application(
            router: router, server: listener.server,
            configuration: .init(address: .hostname(config.address, port: config.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                onListening("\(scheme)://\(address.contains(":") ? "[\(address)]" : address):\(port)")
            },
            logger: log)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await hub.poll() }
            try await app.run()
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func text(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// An error in the API's one shape: `{"error": "..."}`.
    static func problem(_ message: String, status: HTTPResponse.Status) -> Response {
        var r = json(["error": message], status: status)
        if status == .unauthorized { r.headers[.wwwAuthenticate] = "Bearer realm=\"ast-web\"" }
        return r
    }

    func addRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in
            do {
                return Self.html(WebPages.tree(try await op.status(), error: nil, actionsEnabled: access.actionsEnabled))
            } catch {
                return Self.html(WebPages.tree(nil, error: "\(error)", actionsEnabled: access.actionsEnabled))
            }
        }
        router.get("/positions") { _, _ in
            let state = await op.brokerState(broker: broker, executionsSince: Timestamp(nanoseconds: 0))
            return Self.html(
                WebPages.positions(
                    state.map(PositionView.from) ?? [], orders: state?.openOrders.map(OrderView.init) ?? [], broker: broker.description,
                    answered: state != nil))
        }
        router.get("/fills") { _, _ in
            let state = await op.brokerState(broker: broker, executionsSince: Timestamp(nanoseconds: 0))
            return Self.html(WebPages.fills(state?.executions.map(FillView.init) ?? [], answered: state != nil))
        }
        router.get("/equity") { _, _ in
            let (points, error) = await equityCache.points(stateDir: stateDir, now: clock.now())
            return Self.html(WebPages.equity(points, error: error))
        }
        router.get("/alerts") { _, _ in
            Self.html(WebPages.alerts(await TreeStatusCollector.notifierStatus(runtimeDir: op.runtimeDir, ask: op.asker)))
        }
        router.get("/static/app.js") { _, _ in Self.text(WebAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/static/app.css") { _, _ in Self.text(WebAssets.style, type: "text/css; charset=utf-8") }
        // Browsers ask for it on every page; a 404 would be an error in every console.
        router.get("/favicon.ico") { _, _ in Self.text(WebAssets.icon, type: "image/svg+xml") }
        addJournalPages(router)
        addReportPages(router)
        router.get("/events") { _, _ in
            let stream = await hub.subscribe()
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    for await event in stream { try await writer.write(ByteBuffer(string: event)) }
                    try await writer.finish(nil)
                })
        }
        addAPI(router)
        addMetrics(router)
    }

    func addAPI(_ router: Router<BasicRequestContext>) {
        let api = router.group("api/v1")
        api.get("openapi.json") { _, _ in Self.text(OpenAPIDocument.json, type: "application/json; charset=utf-8") }
        api.get("status") { _, _ in
            do {
                return Self.json(try await op.status())
            } catch {
                return Self.problem("astd did not answer: \(error)", status: .serviceUnavailable)
            }
        }
        api.get("positions") { _, _ in
            guard let state = await op.brokerState(broker: broker, executionsSince: Timestamp(nanoseconds: 0)) else {
                return Self.problem("\(broker) did not answer", status: .serviceUnavailable)
            }
            return Self.json(
                PositionsResponse(broker: broker.description, asOf: state.asOf.description, positions: PositionView.from(state)))
        }
        api.get("orders") { _, _ in
            guard let state = await op.brokerState(broker: broker, executionsSince: Timestamp(nanoseconds: 0)) else {
                return Self.problem("\(broker) did not answer", status: .serviceUnavailable)
            }
            return Self.json(
                OrdersResponse(
                    broker: broker.description, asOf: state.asOf.description, openOrders: state.openOrders.map(OrderView.init),
                    fills: state.executions.map(FillView.init)))
        }
        api.get("equity") { _, _ in
            let (points, error) = await equityCache.points(stateDir: stateDir, now: clock.now())
            if let error, points.isEmpty { return Self.problem(error, status: .serviceUnavailable) }
            return Self.json(EquityResponse(points: points))
        }
        api.get("alerts") { _, _ in
            guard let n = await TreeStatusCollector.notifierStatus(runtimeDir: op.runtimeDir, ask: op.asker) else {
                return Self.problem("ast-notifier did not answer", status: .serviceUnavailable)
            }
            return Self.json(n)
        }
        addJournalAPI(api)
        addReportAPI(api)
        for action in ["halt", "resume", "reconcile"] {
            api.post(RouterPath(action)) { request, context in try await self.act(action, request: request) }
        }
    }

    /// An operator action: checked (token, origin), validated, carried out over the bus exactly as
    /// astctl sends it, and journaled in ast-web's journal with its caller, reason and outcome.
    func act(_ action: String, request: Request) async throws -> Response {
        if let refusal = access.check(
            authorization: request.headers[.authorization], origin: request.headers[.origin],
            fetchSite: request.headers[HTTPField.Name("Sec-Fetch-Site")!], host: request.head.authority)
        {
            journalAction(action, reason: nil, accepted: false, message: refusal.message)
            return Self.problem(refusal.message, status: HTTPResponse.Status(code: refusal.status))
        }
        var request = request
        let bytes = (try? await request.collectBody(upTo: 4096)) ?? ByteBuffer()
        let body: ActionRequest
        if bytes.readableBytes == 0 {
            body = ActionRequest()
        } else if let decoded = try? JSONDecoder().decode(ActionRequest.self, from: Data(buffer: bytes)) {
            body = decoded
        } else {
            return Self.problem(
                "the body must be JSON: {\"reason\": \"...\"} (resume: {\"to\": \"active\"|\"reducing\"})", status: .badRequest)
        }
        if let reason = body.reason,
            reason.utf8.count > 200 || reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            return Self.problem("reason must be at most 200 bytes of text without control characters", status: .badRequest)
        }
        do {
            switch action {
            case "halt":
                guard let reason = body.reason, !reason.isEmpty else { return Self.problem("halt needs a reason", status: .badRequest) }
                let report = try await op.risk(.halt(reason: reason))
                journalAction(action, reason: reason, accepted: report.accepted != false, message: report.message ?? "")
                return Self.json(ActionResponse(report), status: report.accepted == false ? .conflict : .ok)
            case "resume":
                guard let target = ResumeTarget(rawValue: body.to ?? "active") else {
                    return Self.problem("to must be active or reducing", status: .badRequest)
                }
                let report = try await op.risk(.resume(to: target))
                journalAction(action, reason: body.reason, accepted: report.accepted == true, message: report.message ?? "")
                return Self.json(ActionResponse(report), status: report.accepted == true ? .ok : .conflict)
            default:
                let reason = "ast-web reconcile" + (body.reason.map { ": \($0)" } ?? "")
                let summary = try await op.reconcile(reason: reason)
                journalAction(action, reason: reason, accepted: summary != nil, message: summary?.summary ?? "no reconciliation ran")
                return Self.json(ReconcileResponse(ran: summary != nil, summary: summary?.summary, clean: summary?.clean))
            }
        } catch {
            journalAction(action, reason: body.reason, accepted: false, message: "\(error)")
            return Self.problem("\(error)", status: .serviceUnavailable)
        }
    }

    /// `web.action` in ast-web's journal: what was asked, by whom, why, and what came of it.
    func journalAction(_ action: String, reason: String?, accepted: Bool, message: String) {
        let entry = WebActionRecord(
            action: action, caller: WebOperator.caller.description, reason: reason, accepted: accepted, message: String(message.prefix(500))
        )
        guard let body = try? Self.encoder.encode(entry) else { return }
        do {
            try journal.append(
                JournalRecord(kind: .event, type: "web.action", timestamp: clock.now(), body: Array(body)), durability: .durable)
        } catch {
            logger.error("cannot journal a web action: \(error)")
        }
    }
}

/// The body of an action request.
struct ActionRequest: Codable, Sendable {
    var reason: String?
    var to: String?
}

/// `web.action` journal entries.
public struct WebActionRecord: Codable, Sendable, Equatable {
    public var action: String
    public var caller: String
    public var reason: String?
    public var accepted: Bool
    public var message: String
}

/// The answer to halt and resume: the gate's verdict and the Safe Mode after it.
struct ActionResponse: Codable, Sendable {
    var accepted: Bool
    var message: String
    var safeMode: SafeModeView

    init(_ r: RiskStatusReport) {
        accepted = r.accepted ?? true
        message = r.message ?? ""
        safeMode = SafeModeView(r)
    }

    enum CodingKeys: String, CodingKey {
        case accepted, message
        case safeMode = "safe_mode"
    }
}

/// Safe Mode in the live updates and action answers.
struct SafeModeView: Codable, Sendable, Equatable {
    var state: String
    var cause: String
    var since: String

    init(_ r: RiskStatusReport) {
        state = r.state.rawValue
        cause = r.cause
        since = r.since.description
    }
}

struct ReconcileResponse: Codable, Sendable {
    var ran: Bool
    var summary: String?
    var clean: Bool?
}

struct PositionsResponse: Codable, Sendable {
    var broker: String
    var asOf: String
    var positions: [PositionView]
    enum CodingKeys: String, CodingKey {
        case broker, positions
        case asOf = "as_of"
    }
}

struct OrdersResponse: Codable, Sendable {
    var broker: String
    var asOf: String
    var openOrders: [OrderView]
    var fills: [FillView]
    enum CodingKeys: String, CodingKey {
        case broker, fills
        case asOf = "as_of"
        case openOrders = "open_orders"
    }
}

struct EquityResponse: Codable, Sendable {
    var points: [EquityPoint]
}

/// Security headers on every answer, errors included: a policy that allows scripts, styles and
/// connections from this origin only (no `unsafe-inline`), no framing, no sniffing, no referrer.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var policy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        // A route may set a policy of its own only to allow hashed inline styles (a report's HTML).
        if response.headers[.contentSecurityPolicy] == nil { response.headers[.contentSecurityPolicy] = Self.policy }
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// The equity curve from the journals (the run report's end-of-day equity), built at most every
/// 5 s however many pages ask.
actor EquityCache {
    var cached: (at: Timestamp, points: [EquityPoint], error: String?)?

    func points(stateDir: String, now: Timestamp) -> ([EquityPoint], String?) {
        if let c = cached, now.nanoseconds >= c.at.nanoseconds, now.nanoseconds - c.at.nanoseconds < 5_000_000_000 {
            return (c.points, c.error)
        }
        var result: ([EquityPoint], String?)
        do {
            let report = try RunReportBuilder.build(stateDirectory: stateDir)
            let days = report.days.compactMap { d in d.endOfDay.map { (date: d.date, equity: $0.equity) } }
            result = (EquityPoint.series(days), nil)
        } catch {
            result = ([], "the journals could not be read: \(error)")
        }
        cached = (now, result.0, result.1)
        return result
    }
}

/// The live updates: one poller asks the risk gate for Safe Mode every interval and the broker
/// for new executions every fourth, and hands each change to every open `/events` stream.
public actor LiveHub {
    let op: WebOperator
    let broker: ProcessIdentity
    let interval: Duration
    let logger: Logger
    var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
    var next = 0
    var lastSafeMode: String?
    var fillsSince: Timestamp?
    var seenAtLast: Set<String> = []

    init(op: WebOperator, broker: ProcessIdentity, interval: Duration, logger: Logger) {
        self.op = op
        self.broker = broker
        self.interval = interval
        self.logger = logger
    }

    /// A stream of SSE frames, starting with the current Safe Mode.
    func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let id = next
        next += 1
        subscribers[id] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        continuation.yield("retry: 1000\n\n")
        if let lastSafeMode { continuation.yield(lastSafeMode) }
        return stream
    }

    func unsubscribe(_ id: Int) { subscribers[id] = nil }

    func broadcast(_ frame: String) {
        for (_, c) in subscribers { c.yield(frame) }
    }

    static func frame(_ event: String, _ value: some Encodable) -> String {
        let data = (try? WebServer.encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "event: \(event)\ndata: \(data)\n\n"
    }

    /// Polls until cancelled; asks nothing while no page listens (ast-web is on by default, and an
    /// idle dashboard must cost the trading processes nothing). A page that connects gets the
    /// current Safe Mode within one interval, and the fills from then on.
    func poll() async {
        var tick = 0
        while !Task.isCancelled {
            if subscribers.isEmpty {
                lastSafeMode = nil
                fillsSince = nil
                seenAtLast = []
                tick = 0
                try? await Task.sleep(for: interval)
                continue
            }
            if let s = await op.safeMode() {
                let frame = Self.frame("safemode", SafeModeView(s))
                if frame != lastSafeMode {
                    lastSafeMode = frame
                    broadcast(frame)
                }
            }
            if tick % 4 == 0 { await pollFills() }
            if tick % 60 == 59 { broadcast(": keepalive\n\n") }
            tick &+= 1
            try? await Task.sleep(for: interval)
        }
        for (_, c) in subscribers { c.finish() }
    }

    func pollFills() async {
        guard let state = await op.brokerState(broker: broker, executionsSince: fillsSince ?? Timestamp(nanoseconds: 0)) else { return }
        let first = fillsSince == nil
        var latest = fillsSince
        var atLatest = seenAtLast
        for f in state.executions {
            if let since = fillsSince, f.at == since, seenAtLast.contains(f.executionID.rawValue) { continue }
            if !first { broadcast(Self.frame("fill", FillView(f))) }
            if latest.map({ f.at > $0 }) ?? true {
                latest = f.at
                atLatest = []
            }
            if f.at == latest { atLatest.insert(f.executionID.rawValue) }
        }
        fillsSince = latest ?? Timestamp(nanoseconds: 0)
        seenAtLast = atLatest
    }
}
