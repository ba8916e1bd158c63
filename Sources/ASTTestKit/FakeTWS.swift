import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A fake of TWS / IB Gateway's API socket, for tests only.
///
/// It is written from IB's public TWS API documentation and the field order of the official
/// client's `EClient`/`EDecoder` (what a client sends and reads), not from IB's server, and it
/// shares no code with AST's client (`ASTTWS`): it frames and parses on its own. The wire format
/// is the real one: the client's `API\0` and length-prefixed `vMIN..MAX`, the server's version and
/// connection time, then 4-byte big-endian length-prefixed messages of NUL-terminated fields.
/// It answers startApi (managedAccounts, nextValidId, or error 326 for a client id in use),
/// placeOrder (orders held until one transmits, then openOrder and orderStatus for the group, or
/// error 201 and 202s for a symbol scripted to be rejected), cancelOrder, reqIds, reqOpenOrders,
/// reqAllOpenOrders, reqPositions, reqExecutions, reqAccountSummary, reqCurrentTime and reqHistoricalData
/// (scripted daily bars; IB's historical-data pacing rules checked, error 162 on a violation), and counts
/// pacing violations (more than 50 messages in a second on one connection: error 100). Tests script fills in parts,
/// cancellations by IB, errors such as 1100 then 1102, and disconnects. It is no evidence of how
/// the real TWS behaves beyond what those documents say.
public final class FakeTWSServer: Sendable {
    /// One order the fake received.
    public struct Order: Sendable, Equatable {
        public var orderId: Int
        public var symbol: String
        public var action: String
        public var quantity: Int
        public var orderType: String
        public var limitPrice: String
        public var auxPrice: String
        public var timeInForce: String
        public var account: String
        public var orderRef: String
        public var transmit: Bool
        public var parentId: Int
        public var permId: Int64
        /// PendingSubmit (held until transmitted), PreSubmitted, Submitted, Filled, Cancelled, Rejected.
        public var status: String
        public var filled: Int
    }

    /// One fill the fake reported.
    public struct Fill: Sendable, Equatable {
        public var execId: String
        public var orderId: Int
        public var quantity: Int
        public var price: String
        /// IB's fixed-rate commission as the fake charges it: $0.005 a share, at least $1.00.
        public var commission: String { String(format: "%.2f", max(1.0, Double(quantity) * 0.005)) }
    }

    struct State {
        var orders: [Int: Order] = [:]
        var fills: [Fill] = []
        var positions: [String: (Int, String)] = [:]
        var received: [[String]] = []
        /// Each connection's recent message times (IB paces each API client connection: 50 a second).
        var sentAt: [ObjectIdentifier: [Date]] = [:]
        var pacingViolations = 0
        var negotiatedVersion: Int?
        var clientId: Int?
        var nextPermId: Int64 = 900_000_001
        var connection: Channel?
        /// Client ids another API connection took after the fake started (``takeClientId(_:)``).
        var clientIdsTaken: Set<Int> = []
        /// Scripted daily bars, what was asked and IB's historical-data pacing (FakeTWSHistory.swift).
        var history = FakeTWSHistory()
    }

    public let port: Int
    let serverVersion: Int
    let accounts: [String]
    let firstOrderId: Int
    let rejectedSymbols: Set<String>
    let clientIdsInUse: Set<Int>
    /// Every transmitted bracket's entry fills at its limit at once (a drill's demo keeps trading).
    let fillsEntries: Bool
    let state = Mutex(State())
    private let channel: Channel

    /// Listens on 127.0.0.1 (a free port). `serverVersion` is the highest the fake speaks: it answers
    /// min(that, the client's maximum), or its own version when the client asks for more than it has.
    public init(
        serverVersion: Int = 200, accounts: [String] = ["DU1234567"], nextValidId: Int = 1001, rejectedSymbols: Set<String> = [],
        clientIdsInUse: Set<Int> = [], fillsEntries: Bool = false
    ) async throws {
        self.fillsEntries = fillsEntries
        self.serverVersion = serverVersion
        self.accounts = accounts
        self.firstOrderId = nextValidId
        self.rejectedSymbols = rejectedSymbols
        self.clientIdsInUse = clientIdsInUse
        let box = Mutex<FakeTWSServer?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { throw HarnessError("fake TWS not ready") }
                    try channel.pipeline.syncOperations.addHandler(FakeTWSHandler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        box.withLock { $0 = self }
    }

    /// Stops listening and closes the client's connection.
    public func stop() async {
        let c = state.withLock { $0.connection }
        try? await c?.close()
        try? await channel.close()
    }

    // MARK: - What the fake saw

    /// Orders by id, as received and updated.
    public var orders: [Order] { state.withLock { $0.orders.values.sorted { $0.orderId < $1.orderId } } }
    public var fills: [Fill] { state.withLock { $0.fills } }
    /// Every message received after the handshake, as fields.
    public var received: [[String]] { state.withLock { $0.received } }
    public var pacingViolations: Int { state.withLock { $0.pacingViolations } }
    public var negotiatedVersion: Int? { state.withLock { $0.negotiatedVersion } }

    // MARK: - Scripted events

    /// Fills `quantity` of a working order at `price`: execDetails, commissionReport, orderStatus.
    /// With `reported: false` the fill happens at IB but its messages never reach the client (TWS
    /// cut off from IB after a 1100): only reqExecutions, reqPositions and reqOpenOrders show it.
    public func fill(orderId: Int, quantity: Int, price: String, reported: Bool = true) {
        let messages: [[String]]? = state.withLock { s in Self.book(fill: orderId, quantity: quantity, price: price, &s) }
        if reported, let messages { send(messages) }
    }

    /// Books a fill of a working order: its state, the fill, the position, the children it releases;
    /// the messages TWS sends about it, or nil when the order is not working.
    static func book(fill orderId: Int, quantity: Int, price: String, _ s: inout State) -> [[String]]? {
        guard var o = s.orders[orderId], o.status == "Submitted" || o.status == "PreSubmitted", let v = s.negotiatedVersion else {
            return nil
        }
        o.filled = min(o.quantity, o.filled + quantity)
        o.status = o.filled == o.quantity ? "Filled" : "Submitted"
        s.orders[orderId] = o
        let execId = String(format: "0000e0d5.%08x.01.01", s.fills.count + 1)
        let fill = Fill(execId: execId, orderId: orderId, quantity: quantity, price: price)
        s.fills.append(fill)
        let signed = o.action == "BUY" ? quantity : -quantity
        let held = s.positions[o.symbol]?.0 ?? 0
        s.positions[o.symbol] = (held + signed, price)
        if o.status == "Filled" {
            for (id, child) in s.orders where child.parentId == orderId && child.status == "PreSubmitted" {
                s.orders[id]?.status = "Submitted"
            }
        }
        return [
            Self.execution(reqId: -1, o, execId: execId, quantity: quantity, price: price, cumulative: o.filled, version: v),
            Self.commissionReport(fill),
            Self.orderStatus(o, averagePrice: price, lastPrice: price),
        ]
    }

    /// IB cancels a working order on its own (an order cancelled behind the client's back).
    public func cancelByIB(orderId: Int) {
        let messages: [[String]]? = state.withLock { s in
            guard var o = s.orders[orderId], let v = s.negotiatedVersion else { return nil }
            o.status = "Cancelled"
            s.orders[orderId] = o
            return [Self.orderStatus(o), Self.error(id: orderId, code: 202, "Order Canceled - reason:", version: v)]
                + Self.parentCancelled(o, &s, version: v)
        }
        if let messages { send(messages) }
    }

    /// The session ends: TWS cancels every working DAY order (as IB does at the close); GTC orders stay.
    public func endSession() {
        let messages: [[String]]? = state.withLock { s in
            guard let v = s.negotiatedVersion else { return nil }
            var out: [[String]] = []
            for id in s.orders.keys.sorted() {
                guard var o = s.orders[id], o.timeInForce == "DAY", ["Submitted", "PreSubmitted"].contains(o.status) else { continue }
                o.status = "Cancelled"
                s.orders[id] = o
                out += [Self.orderStatus(o), Self.error(id: id, code: 202, "Order Canceled - reason:", version: v)]
            }
            return out
        }
        if let messages { send(messages) }
    }

    /// An error or notice (`id` -1 for the connection): 1100, 1101, 1102, 2104, ...
    public func sendError(id: Int = -1, code: Int, _ text: String) {
        guard let v = state.withLock({ $0.negotiatedVersion }) else { return }
        send([Self.error(id: id, code: code, text, version: v)])
    }

    /// Another API connection takes `clientId` (nil: gives it back): the next startApi with it gets 326.
    public func takeClientId(_ clientId: Int?) {
        state.withLock { $0.clientIdsTaken = clientId.map { [$0] } ?? [] }
    }

    /// startApi messages received (each connection attempt that got past the handshake).
    public var startApiCount: Int { state.withLock { $0.received.filter { $0.first == "71" }.count } }

    /// Closes the client's connection (a nightly restart, a crash).
    public func dropConnection() {
        let c = state.withLock { $0.connection }
        c?.close(promise: nil)
    }

    // MARK: - Protocol

    func send(_ messages: [[String]]) {
        guard let c = state.withLock({ $0.connection }) else { return }
        var buffer = c.allocator.buffer(capacity: 256)
        for m in messages { Self.writeFrame(m, into: &buffer) }
        c.writeAndFlush(buffer, promise: nil)
    }

    static func writeFrame(_ fields: [String], into buffer: inout ByteBuffer) {
        let body = fields.reduce(into: [UInt8]()) { $0 += Array($1.utf8) + [0] }
        buffer.writeInteger(UInt32(body.count), endianness: .big)
        buffer.writeBytes(body)
    }

    static func error(id: Int, code: Int, _ text: String, version: Int) -> [String] {
        version >= 194
            ? ["4", String(id), String(code), text, "", String(Int64(Date().timeIntervalSince1970 * 1000))]
            : ["4", "2", String(id), String(code), text, ""]
    }

    /// commissionReport: VERSION, execId, commission, currency, realizedPNL, yield, yieldRedemptionDate
    /// (unset doubles as Double.greatestFiniteMagnitude, as IB sends them).
    static func commissionReport(_ fill: Fill) -> [String] {
        ["59", "1", fill.execId, fill.commission, "USD", "1.7976931348623157E308", "1.7976931348623157E308", "0"]
    }

    static func orderStatus(_ o: Order, averagePrice: String = "0", lastPrice: String = "0") -> [String] {
        [
            "3", String(o.orderId), o.status, String(o.filled), String(o.quantity - o.filled), averagePrice, String(o.permId),
            String(o.parentId), lastPrice, "0", "", "0",
        ]
    }

    /// openOrder, fields in the official decoder's order (no version field from server version 145).
    static func openOrder(_ o: Order, clientId: Int) -> [String] {
        [
            "5", String(o.orderId), "0", o.symbol, "STK", "", "0", "", "", "SMART", "USD", o.symbol, "NMS",
            o.action, String(o.quantity), o.orderType, o.limitPrice, o.auxPrice, o.timeInForce, "", o.account, "", "0", o.orderRef,
            String(clientId), String(o.permId), "0", "0", "0", "", "", "", "", "", "", "", "", "", "", "0", "", "-1", "0",
            "", "", "", "", "", "0", "0", "0", "0", "", "0", "0", "0", "", String(o.parentId), "0",
            // volatility, ..., order state (not decoded field by field by AST's client)
            "", "0", "", "", "0", "", "", "", "", "", "", "", "0", o.status,
        ]
    }

    static func execution(reqId: Int, _ o: Order, execId: String, quantity: Int, price: String, cumulative: Int, version: Int) -> [String] {
        var f = [
            "11", String(reqId), String(o.orderId), "0", o.symbol, "STK", "", "0", "", "", "ISLAND", "USD", o.symbol, "NMS",
            execId, "20261207 09:30:01 US/Eastern", o.account, "ISLAND", o.action == "BUY" ? "BOT" : "SLD", String(quantity), price,
            String(o.permId), "0", "0", String(cumulative), price, o.orderRef, "", "", "", "1", "0",
        ]
        if version >= 198 { f.append("") }  // submitter
        return f
    }

    /// Handles one message from the client; returns the messages to answer with and whether to close.
    func handle(_ f: [String], now: Date, connection: ObjectIdentifier) -> (answer: [[String]], close: Bool) {
        state.withLock { s in
            s.received.append(f)
            var recent = s.sentAt[connection, default: []]
            recent.append(now)
            recent.removeAll { now.timeIntervalSince($0) >= 1 }
            s.sentAt[connection] = recent
            var answer: [[String]] = []
            if recent.count > 50 {
                s.pacingViolations += 1
                answer.append(
                    Self.error(
                        id: -1, code: 100, "Max rate of messages per second has been exceeded:max=50", version: s.negotiatedVersion ?? 0))
            }
            let v = s.negotiatedVersion ?? 0
            switch f.first ?? "" {
            case "71":  // startApi: VERSION, clientId, optionalCapabilities
                let clientId = Int(f.count > 2 ? f[2] : "") ?? -1
                if clientIdsInUse.contains(clientId) || s.clientIdsTaken.contains(clientId) {
                    return (
                        [
                            Self.error(
                                id: -1, code: 326, "Unable to connect as the client id is already in use. Retry with a unique client id.",
                                version: v)
                        ], true
                    )
                }
                s.clientId = clientId
                answer += [["15", "1", accounts.joined(separator: ",")], ["9", "1", String(nextOrderId(s))]]
            case "8": answer.append(["9", "1", String(nextOrderId(s))])
            case "49": answer.append(["49", "1", String(Int64(now.timeIntervalSince1970))])
            case "3": answer += place(f, &s)
            case "4":  // cancelOrder: VERSION below 192, id, ...
                let id = Int(f.count > (v >= 192 ? 1 : 2) ? f[v >= 192 ? 1 : 2] : "") ?? -1
                if var o = s.orders[id], ["PreSubmitted", "Submitted", "PendingSubmit"].contains(o.status) {
                    o.status = "Cancelled"
                    s.orders[id] = o
                    answer += [Self.orderStatus(o), Self.error(id: id, code: 202, "Order Canceled - reason:", version: v)]
                    answer += Self.parentCancelled(o, &s, version: v)
                } else {
                    answer.append(Self.error(id: id, code: 161, "Cancel attempted when order is not in a cancellable state.", version: v))
                }
            case "5", "16":
                for o in s.orders.values.sorted(by: { $0.orderId < $1.orderId }) where o.status != "PendingSubmit" {
                    answer += [Self.openOrder(o, clientId: s.clientId ?? 0), Self.orderStatus(o)]
                }
                answer.append(["53", "1"])
            case "61":
                for (symbol, p) in s.positions.sorted(by: { $0.key < $1.key }) {
                    answer.append([
                        "61", "3", accounts.first ?? "", "0", symbol, "STK", "", "0", "", "", "NASDAQ", "USD", symbol, "NMS", String(p.0),
                        p.1,
                    ])
                }
                answer.append(["62", "1"])
            case "7":  // reqExecutions: VERSION, reqId, ...
                let reqId = Int(f.count > 2 ? f[2] : "") ?? -1
                for fill in s.fills {
                    guard let o = s.orders[fill.orderId] else { continue }
                    answer.append(
                        Self.execution(
                            reqId: reqId, o, execId: fill.execId, quantity: fill.quantity, price: fill.price, cumulative: o.filled,
                            version: v))
                    answer.append(Self.commissionReport(fill))  // each execution's commission follows it
                }
                answer.append(["55", "1", String(reqId)])
            case "20": answer += historical(f, now: now, &s)  // reqHistoricalData (FakeTWSHistory.swift)
            case "62":  // reqAccountSummary: VERSION, reqId, group, tags
                let reqId = f.count > 2 ? f[2] : "0"
                answer += [
                    ["63", "1", reqId, accounts.first ?? "", "NetLiquidation", "100000.00", "USD"],
                    ["63", "1", reqId, accounts.first ?? "", "TotalCashValue", "100000.00", "USD"], ["64", "1", reqId],
                ]
            default: break
            }
            return (answer, false)
        }
    }

    /// A parent cancelled: its held children are cancelled with it when nothing filled; after a
    /// partial fill they start working for the shares that filled (their quantity left as it was:
    /// the client is expected to resize them to the position).
    static func parentCancelled(_ parent: Order, _ s: inout State, version v: Int) -> [[String]] {
        var out: [[String]] = []
        for id in s.orders.keys.sorted() {
            guard var child = s.orders[id], child.parentId == parent.orderId, child.status == "PreSubmitted" else { continue }
            child.status = parent.filled > 0 ? "Submitted" : "Cancelled"
            s.orders[id] = child
            out.append(Self.orderStatus(child))
            if child.status == "Cancelled" {
                out.append(Self.error(id: id, code: 202, "Order Canceled - reason:parent order cancelled", version: v))
            }
        }
        return out
    }

    private func nextOrderId(_ s: State) -> Int { max(firstOrderId, (s.orders.keys.max() ?? 0) + 1) }

    /// placeOrder from server version 145 on: id at 1, symbol 3, action 16, quantity 17, type 18,
    /// limit 19, aux 20, tif 21, account 23, orderRef 26, transmit 27, parentId 28.
    private func place(_ f: [String], _ s: inout State) -> [[String]] {
        guard f.count > 28, let id = Int(f[1]), let qty = Int(f[17]) else {
            return [Self.error(id: -1, code: 320, "Error reading request: placeOrder is malformed", version: s.negotiatedVersion ?? 0)]
        }
        let v = s.negotiatedVersion ?? 0
        let permId = s.nextPermId
        s.nextPermId += 1
        let o = Order(
            orderId: id, symbol: f[3], action: f[16], quantity: qty, orderType: f[18], limitPrice: f[19], auxPrice: f[20],
            timeInForce: f[21],
            account: f[23], orderRef: f[26], transmit: f[27] == "1", parentId: Int(f[28]) ?? 0, permId: permId, status: "PendingSubmit",
            filled: 0)
        if let held = s.orders[id], held.status != "PendingSubmit" {
            // The same id again is a modification of a working order (IB's way to change one).
            guard ["Submitted", "PreSubmitted"].contains(held.status), held.orderRef == o.orderRef, qty >= held.filled else {
                return [Self.error(id: id, code: 103, "Duplicate order id", version: v)]
            }
            var changed = held
            changed.quantity = qty
            changed.limitPrice = o.limitPrice
            changed.auxPrice = o.auxPrice
            if changed.filled == changed.quantity { changed.status = "Filled" }
            s.orders[id] = changed
            return [Self.openOrder(changed, clientId: s.clientId ?? 0), Self.orderStatus(changed)]
        }
        s.orders[id] = o
        guard o.transmit else { return [] }
        let root = o.parentId == 0 ? id : o.parentId
        let group = s.orders.values.filter { ($0.orderId == root || $0.parentId == root) && $0.status == "PendingSubmit" }
            .sorted { $0.orderId < $1.orderId }
        var answer: [[String]] = []
        if rejectedSymbols.contains(o.symbol) {
            for var g in group {
                g.status = g.orderId == root ? "Rejected" : "Cancelled"
                s.orders[g.orderId] = g
                answer.append(
                    g.orderId == root
                        ? Self.error(
                            id: g.orderId, code: 201, "Order rejected - reason:The symbol is not allowed for this account", version: v)
                        : Self.error(id: g.orderId, code: 202, "Order Canceled - reason:parent order was rejected", version: v))
            }
            return answer
        }
        for var g in group {
            g.status = g.parentId == 0 ? "Submitted" : "PreSubmitted"
            s.orders[g.orderId] = g
            answer += [Self.openOrder(g, clientId: s.clientId ?? 0), Self.orderStatus(g)]
        }
        if fillsEntries, let entry = s.orders[root], entry.parentId == 0, !entry.limitPrice.isEmpty {
            answer += Self.book(fill: root, quantity: entry.quantity, price: entry.limitPrice, &s) ?? []
        }
        return answer
    }

    /// The client's `vMIN..MAX`: the version the fake answers with.
    func negotiate(_ text: String) -> Int {
        let range = text.dropFirst().split(separator: " ").first.map { $0.split(separator: ".").compactMap { Int($0) } } ?? []
        let clientMax = range.last ?? 0
        let v = min(serverVersion, clientMax)
        state.withLock { $0.negotiatedVersion = v }
        return v
    }
}

/// One client connection of the fake TWS.
final class FakeTWSHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let server: FakeTWSServer
    var buffer = ByteBuffer()
    var handshaken = false
    /// This connection's version is agreed (per connection: a new client may connect while an old,
    /// hung one is still open).
    var negotiated = false

    init(server: FakeTWSServer) { self.server = server }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        server.state.withLock { $0.connection = channel }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        if !handshaken {
            guard buffer.readableBytes >= 8 else { return }
            guard buffer.readBytes(length: 4) == [0x41, 0x50, 0x49, 0x00] else {
                context.close(promise: nil)
                return
            }
            handshaken = true
        }
        while let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self),
            buffer.readableBytes >= 4 + Int(length)
        {
            buffer.moveReaderIndex(forwardBy: 4)
            let body = buffer.readBytes(length: Int(length)) ?? []
            if !negotiated {
                negotiated = true
                let v = server.negotiate(String(decoding: body, as: UTF8.self))
                var out = context.channel.allocator.buffer(capacity: 64)
                FakeTWSServer.writeFrame([String(v), "20261207 07:00:00 EST"], into: &out)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                continue
            }
            var fields = body.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if fields.last == "" { fields.removeLast() }
            let (answer, close) = server.handle(fields, now: Date(), connection: ObjectIdentifier(self))
            var out = context.channel.allocator.buffer(capacity: 256)
            for m in answer { FakeTWSServer.writeFrame(m, into: &out) }
            if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
            if close { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let channel = context.channel
        server.state.withLock { s in
            // Only the current connection: an old one closing late leaves the new one as it is.
            guard s.connection === channel else { return }
            s.connection = nil
            s.negotiatedVersion = nil
        }
    }
}
