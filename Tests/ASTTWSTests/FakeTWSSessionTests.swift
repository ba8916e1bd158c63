import ASTCore
import ASTTestKit
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ASTTWS

/// Carries out a `TWSConnection`'s actions over a real TCP socket, with the wall clock as its
/// time: a test shell, standing in for the broker's SwiftNIO shell (not built yet).
final class TWSTestDriver: @unchecked Sendable {
    let port: Int
    var connection: TWSConnection
    var channel: Channel?
    let inbox = Inbox()
    var delivered: [TWSMessage] = []
    var events: [TWSConnectionEvent] = []

    /// Bytes the socket delivered, taken by the driver's loop.
    final class Inbox: Sendable {
        let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))
        func take() -> (bytes: [UInt8], closed: Bool) {
            state.withLock { s in
                defer { s.bytes = [] }
                return s
            }
        }
    }

    init(port: Int, clientId: Int32 = 7, pacer: TWSPacer = TWSPacer()) {
        self.port = port
        self.connection = TWSConnection(settings: TWSConnectionSettings(clientId: clientId, pacer: pacer))
    }

    static func now() -> Timestamp { Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1_000_000_000)) }

    func perform(_ actions: [TWSConnection.Action]) async throws {
        for action in actions {
            switch action {
            case .openSocket:
                inbox.state.withLock { $0 = ([], false) }
                do {
                    let inbox = self.inbox
                    let ch = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .channelInitializer { ch in
                            ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Collector(inbox)) }
                        }
                        .connect(host: "127.0.0.1", port: port).get()
                    channel = ch
                    try await perform(connection.socketOpened(now: Self.now()))
                } catch {
                    try await perform(connection.socketFailed(now: Self.now(), reason: "\(error)"))
                }
            case .write(let bytes):
                if let channel { try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)) }
            case .closeSocket:
                try? await channel?.close()
                channel = nil
            case .wake: break
            case .deliver(let m): delivered.append(m)
            case .event(let e): events.append(e)
            }
        }
    }

    func send(_ request: TWSRequest) async throws { try await perform(connection.send(request, now: Self.now())) }

    /// Runs the connection until `done` holds, or fails after `seconds` saying what was seen.
    func until(_ what: String, seconds: Double = 20, _ done: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !done() {
            guard Date() < deadline else {
                throw HarnessError(
                    "gave up waiting for \(what) after \(seconds) s; phase \(connection.phase); events \(events); "
                        + "last messages \(delivered.suffix(8))")
            }
            try await perform(connection.tick(now: Self.now()))
            let (bytes, closed) = inbox.take()
            if !bytes.isEmpty { try await perform(connection.received(bytes, now: Self.now())) }
            if closed, channel != nil {
                channel = nil
                try await perform(connection.socketClosed(now: Self.now()))
            }
            if bytes.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox
        init(_ inbox: Inbox) { self.inbox = inbox }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            let bytes = b.readBytes(length: b.readableBytes) ?? []
            inbox.state.withLock { $0.bytes += bytes }
        }
        func channelInactive(context: ChannelHandlerContext) { inbox.state.withLock { $0.closed = true } }
    }
}

/// AST's TWS client against `FakeTWSServer` on a real loopback socket. The server is a FAKE written
/// from IB's TWS API documentation and the official client's field order, sharing no code with
/// the client: these tests show the client and a documented reading of the protocol agree; they
/// are no evidence of how IB's own TWS or Gateway behaves beyond those documents.
@Suite struct FakeTWSSessionTests {
    func outcomes(_ d: TWSTestDriver) -> [TWSErrorOutcome] {
        d.events.compactMap { (e: TWSConnectionEvent) -> TWSErrorOutcome? in
            if case .error(_, let o) = e { return o }
            return nil
        }
    }

    func statuses(_ d: TWSTestDriver, _ id: Int32) -> [TWSOrderStatus] {
        d.delivered.compactMap { (m: TWSMessage) -> TWSOrderStatus? in
            if case .orderStatus(let s) = m, s.orderId == id { return s }
            return nil
        }
    }

    @Test func bracketAcceptedFilledInPartsRejectedThenConnectivityLostAndRestored() async throws {
        let fake = try await FakeTWSServer(rejectedSymbols: ["REJ"])
        let d = TWSTestDriver(port: fake.port)
        do {
            try await d.perform(d.connection.start(now: TWSTestDriver.now()))
            try await d.until("the API to start") { d.connection.phase == .started }
            #expect(d.connection.session?.serverVersion == v200 && d.connection.session?.accounts == ["DU1234567"])
            let first = try #require(d.connection.session?.nextValidId)

            // A bracket: the fake holds the parent and the stop until the target transmits.
            let legs = try TWSBracket.placements(
                parentId: first, side: .buy, quantity: 100, entry: price("150.25"), stop: price("145.50"), target: price("160.00"),
                clientOrderId: "ig-1", account: "DU1234567")
            for leg in legs { try await d.send(.placeOrder(orderId: leg.orderId, contract: TWSContract(symbol: "AAPL"), order: leg.order)) }
            try await d.until("the three legs acknowledged") { legs.allSatisfy { !statuses(d, $0.orderId).isEmpty } }
            #expect(fake.orders.map(\.orderRef) == ["ig-1.E", "ig-1.S", "ig-1.T"])
            #expect(fake.orders.map(\.transmit) == [false, false, true])
            #expect(fake.orders.map(\.parentId) == [0, Int(first), Int(first)])
            #expect(statuses(d, first).last?.status == "Submitted" && statuses(d, first + 1).last?.status == "PreSubmitted")

            // Filled in two parts: two executions, then Filled with the whole quantity.
            fake.fill(orderId: Int(first), quantity: 40, price: "150.25")
            fake.fill(orderId: Int(first), quantity: 60, price: "150.20")
            try await d.until("the entry filled") { statuses(d, first).last?.status == "Filled" }
            let executions = d.delivered.compactMap { (m: TWSMessage) -> TWSExecution? in
                if case .execution(let e) = m { return e }
                return nil
            }
            #expect(executions.map { $0.shares?.wholeNumber } == [40, 60])
            #expect(executions.allSatisfy { $0.orderRef == "ig-1.E" })
            #expect(statuses(d, first).last?.filled?.wholeNumber == 100 && statuses(d, first).last?.remaining?.wholeNumber == 0)

            // A rejected bracket: 201 for the parent, 202 for its children.
            let rejected = try TWSBracket.placements(
                parentId: first + 3, side: .buy, quantity: 10, entry: price("20"), stop: price("19"), target: price("22"),
                clientOrderId: "ig-2")
            for leg in rejected {
                try await d.send(.placeOrder(orderId: leg.orderId, contract: TWSContract(symbol: "REJ"), order: leg.order))
            }
            try await d.until("the rejection") { outcomes(d).contains(.orderRejected(orderId: first + 3, code: 201)) }
            try await d.until("the children cancelled") { outcomes(d).contains(.orderCancelled(orderId: first + 5)) }

            // 1100: TWS has lost IB; 1102: restored with data kept.
            fake.sendError(code: 1100, "Connectivity between IB and Trader Workstation has been lost.")
            try await d.until("connectivity lost") { !d.connection.ibReachable }
            fake.sendError(code: 1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.")
            try await d.until("connectivity restored") { d.connection.ibReachable }
            #expect(outcomes(d).suffix(2) == [.connectivityLost, .connectivityRestored(marketDataLost: false)])

            // After the outage the client finds its orders at IB by orderRef.
            let before = d.delivered.count
            try await d.send(.reqAllOpenOrders)
            try await d.until("openOrderEnd") { d.delivered.dropFirst(before).contains(.openOrderEnd) }
            let refs = d.delivered.dropFirst(before).compactMap { (m: TWSMessage) -> String? in
                if case .openOrder(let o) = m { return o.orderRef }
                return nil
            }
            #expect(refs.contains("ig-1.S") && refs.contains("ig-1.T"))
            #expect(fake.pacingViolations == 0)
            _ = d.connection.stop(now: TWSTestDriver.now())
            try await d.perform([.closeSocket])
            await fake.stop()
        } catch {
            try? await d.perform([.closeSocket])
            await fake.stop()
            throw error
        }
    }

    @Test func aClientIdInUseIsRefusedAndAnOldServerIsRefusedBeforeStartApi() async throws {
        let busy = try await FakeTWSServer(clientIdsInUse: [7])
        let d = TWSTestDriver(port: busy.port, clientId: 7)
        try await d.perform(d.connection.start(now: TWSTestDriver.now()))
        try await d.until("client id in use") {
            d.events.contains { if case .disconnected(.clientIdInUse, _) = $0 { true } else { false } }
        }
        try? await d.perform([.closeSocket])
        await busy.stop()

        let old = try await FakeTWSServer(serverVersion: 176)
        let o = TWSTestDriver(port: old.port)
        try await o.perform(o.connection.start(now: TWSTestDriver.now()))
        try await o.until("the old server refused") {
            o.events.contains { if case .disconnected(.serverTooOld(176), _) = $0 { true } else { false } }
        }
        #expect(old.received.isEmpty)  // no startApi was sent
        try? await o.perform([.closeSocket])
        await old.stop()
    }

    /// The fake counts what IB would call a pacing violation (more than 50 arrivals in a second);
    /// paced requests commit none, while the same 60 requests written straight to the socket do.
    /// The pacer here allows 50 per 3 s, not the default 1.1 s: on a loaded test machine the fake's
    /// own event loop may stall and squeeze arrivals by far more than the default's 100 ms margin
    /// (the default's own bound is the unit tests'). The unpaced requests go out in one write, so
    /// that they arrive together however slowly the test runs.
    @Test func pacedRequestsStayUnderIBsLimitAndUnpacedOnesAreCaught() async throws {
        let fake = try await FakeTWSServer()
        let d = TWSTestDriver(port: fake.port, pacer: TWSPacer(limit: 50, window: .seconds(3)))
        do {
            try await d.perform(d.connection.start(now: TWSTestDriver.now()))
            try await d.until("the API to start") { d.connection.phase == .started }
            for _ in 0..<60 { try await d.send(.reqCurrentTime) }
            try await d.until("60 current times") {
                d.delivered.filter { if case .currentTime = $0 { true } else { false } }.count == 60
            }
            #expect(fake.pacingViolations == 0)
            // The same requests, bypassing the pacer.
            let frame = TWSWire.frame(try TWSRequest.reqCurrentTime.encode(at: v200))
            try await d.perform([.write(Array((0..<60).map { _ in frame }.joined()))])
            try await d.until("IB's error 100") { outcomes(d).contains(.pacingViolation) }
            #expect(fake.pacingViolations > 0)
            try? await d.perform([.closeSocket])
            await fake.stop()
        } catch {
            try? await d.perform([.closeSocket])
            await fake.stop()
            throw error
        }
    }
}
