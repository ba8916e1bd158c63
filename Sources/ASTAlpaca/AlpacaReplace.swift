import ASTCore

/// The fields of an order replace (`PATCH /v2/orders/{id}`): each one given overrides the order's,
/// the others stay as they were (Alpaca's reference, "Replace Order by ID"). Alpaca answers with a
/// new order (a new id, `replaces` = the old one) and the old one ends `replaced` with
/// `replaced_by` = the new one; a success answer does not yet mean the old order is replaced (it
/// may fill first, and the replacement is then rejected): the `trade_updates` stream says which.
public struct AlpacaReplace: Sendable, Equatable, Codable {
    /// `qty`: whole shares.
    public var quantity: Quantity?
    /// `limit_price` (a limit or stop-limit order's).
    public var limitPrice: Price?
    /// `stop_price` (a stop or stop-limit order's).
    public var stopPrice: Price?
    /// `time_in_force`.
    public var timeInForce: TimeInForce?
    /// `client_order_id` of the new order (Alpaca's reference: not editable on its own, only with
    /// another field).
    public var clientOrderID: ClientOrderID?

    public init(
        quantity: Quantity? = nil, limitPrice: Price? = nil, stopPrice: Price? = nil, timeInForce: TimeInForce? = nil,
        clientOrderID: ClientOrderID? = nil
    ) {
        self.quantity = quantity
        self.limitPrice = limitPrice
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
        self.clientOrderID = clientOrderID
    }

    /// Whether the replace changes anything an order executes by (all but the client order id).
    public var changesTheOrder: Bool { quantity != nil || limitPrice != nil || stopPrice != nil || timeInForce != nil }
}

extension AlpacaRequests {
    /// `PATCH /v2/orders/{id}` with the fields of `replace`, checked as a submit's are: whole shares in
    /// 1...``maxShares``, prices on Alpaca's tick, `day`/`gtc`, a client order id Alpaca takes, and at
    /// least one field that changes the order (a lone `client_order_id` Alpaca refuses).
    public static func replace(id: String, _ replace: AlpacaReplace) throws(AlpacaRequestError) -> AlpacaRequest {
        guard isOrderID(id) else { throw AlpacaRequestError("order id \(show(id)) is not an Alpaca order id") }
        guard replace.changesTheOrder else {
            throw AlpacaRequestError(
                "a replace needs qty, limit_price, stop_price or time_in_force (client_order_id is not editable alone)")
        }
        var body: [(String, String)] = []
        if let q = replace.quantity {
            guard q.shares > 0, q.shares <= maxShares else { throw AlpacaRequestError("qty \(q) is not in 1...\(maxShares) shares") }
            body.append(("qty", AlpacaJSONWriter.quote(String(q.shares))))
        }
        if let tif = replace.timeInForce { body.append(("time_in_force", AlpacaJSONWriter.quote(tif.rawValue))) }
        if let p = replace.limitPrice {
            try checkPrice(p, "limit_price")
            body.append(("limit_price", AlpacaJSONWriter.quote(p.description)))
        }
        if let p = replace.stopPrice {
            try checkPrice(p, "stop_price")
            body.append(("stop_price", AlpacaJSONWriter.quote(p.description)))
        }
        if let c = replace.clientOrderID {
            try checkClientOrderID(c)
            body.append(("client_order_id", AlpacaJSONWriter.quote(c.rawValue)))
        }
        return AlpacaRequest(method: .patch, path: "/v2/orders/\(id)", body: AlpacaJSONWriter.object(body))
    }
}

/// The outcome of `PATCH /v2/orders/{id}`.
public enum AlpacaReplaceOutcome: Sendable, Equatable {
    /// Alpaca took the replace: the new order (its `replaces` names the old one). The old order is
    /// replaced once the stream (or a read) says `replaced`; it may fill first.
    case accepted(AlpacaOrder)
    /// A definite refusal (422 not replaceable or invalid, 403 buying power, 404, 400): nothing
    /// changed, the old order stays as it was.
    case refused(status: Int, AlpacaAPIError)
    /// Unknown (a 5xx, a 429, an unreadable answer, no answer): the old order may or may not be
    /// replaced; read it (its `replaced_by`) before deciding anything.
    case unknown(String)

    /// Classifies one answer to the replace.
    public static func read(_ answer: AlpacaAnswer) -> AlpacaReplaceOutcome {
        switch answer {
        case .ok(let json):
            do {
                return .accepted(try AlpacaOrder.decode(json))
            } catch {
                return .unknown("the answer to the replace could not be read: \(error.reason)")
            }
        case .notFound(let e): return .refused(status: 404, e)
        case .refused(let status, let e): return .refused(status: status, e)
        case .unauthorized(let e): return .refused(status: 401, e)
        case .rateLimited: return .unknown("rate limited (429): the replace may or may not have been taken")
        case .serverError(let status, let e): return .unknown("server error \(status): \(e)")
        case .malformed(let why): return .unknown(why)
        }
    }
}
