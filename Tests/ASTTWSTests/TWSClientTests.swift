import ASTCore
import ASTTestKit
import Foundation
import Logging
import Synchronization
import Testing

@testable import ASTTWS
@testable import ASTTWSClient

/// The SwiftNIO shell (`TWSClient`) against `FakeTWSServer` on a real loopback socket. The server
/// is a FAKE written from IB's TWS API documentation, sharing no code with the client.
@Suite struct TWSClientTests {
    /// Collects the client's outputs and waits for one, printing what was seen when it gives up.
    final class Collector: Sendable {
        let box = Box()
        let task: Task<Void, Never>

        final class Box: Sendable { let seen = Mutex<[TWSClientOutput]>([]) }

        init(_ client: TWSClient) {
            let box = box
            task = Task { for await o in client.outputs { box.seen.withLock { $0.append(o) } } }
        }

        /// The bound is generous: the whole unit run shares two cores, and a wait here has given up
        /// after 20 s with nothing seen while other suites held the pool (CI, 2026-12-07).
        func wait(_ what: String, seconds: Double = 90, _ done: @Sendable ([TWSClientOutput]) -> Bool) async throws {
            let deadline = Date().addingTimeInterval(seconds)
            while !box.seen.withLock({ done($0) }) {
                guard Date() < deadline else {
                    throw HarnessError("gave up waiting for \(what) after \(seconds) s; saw \(box.seen.withLock { $0.suffix(12) })")
                }
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        func count(_ match: @Sendable (TWSClientOutput) -> Bool) -> Int { box.seen.withLock { $0.filter(match).count } }
    }

    static func started(_ o: TWSClientOutput) -> Bool {
        if case .event(.started) = o { return true }
        return false
    }

    static func settings(window: TWSMaintenanceWindow? = nil) -> TWSConnectionSettings {
        TWSConnectionSettings(
            clientId: 7, backoff: TWSBackoff(initial: .milliseconds(50), maximum: .milliseconds(200)), maintenanceWindow: window)
    }

    @Test func clientStartsPlacesABracketAndReconnectsAfterTheServerDropsIt() async throws {
        let fake = try await FakeTWSServer()
        let client = TWSClient(
            host: "127.0.0.1", port: fake.port, settings: Self.settings(), clock: WallTime(), logger: Logger(label: "test"))
        let seen = Collector(client)
        await client.start()
        try await seen.wait("the API to start") { $0.contains(where: Self.started) }
        let session = try #require(await client.session)
        #expect(session.serverVersion == TWSServerVersion.highest)
        #expect(session.accounts == ["DU1234567"])
        let legs = try TWSBracket.placements(
            parentId: session.nextValidId, side: .buy, quantity: Quantity(10), entry: Price("100")!, stop: Price("95")!,
            target: Price("110")!, clientOrderId: "i1")
        for leg in legs {
            await client.send(.placeOrder(orderId: leg.orderId, contract: TWSContract(symbol: "AAPL"), order: leg.order))
        }
        try await seen.wait("three open orders") { outputs in
            outputs.filter { if case .message(.openOrder) = $0 { true } else { false } }.count == 3
        }
        #expect(fake.orders.map(\.orderRef) == ["i1.E", "i1.S", "i1.T"])
        fake.dropConnection()
        try await seen.wait("a disconnect and a second start") { outputs in
            outputs.filter(Self.started).count == 2
                && outputs.contains { if case .event(.disconnected(.closedByPeer, _)) = $0 { true } else { false } }
        }
        await client.stop()
        await fake.stop()
        seen.task.cancel()
    }

    @Test func aDropInsideTheMaintenanceWindowIsPlannedAndReconnectsAtItsEnd() async throws {
        let fake = try await FakeTWSServer()
        // The window is fixed (00:00:00 for 15 s); the clock is moved to half a second into it just before
        // the drop, so how long the start-up took under load cannot put the drop outside the window, and
        // the client has 14.5 s to see the drop while the rest of the unit run holds both cores.
        let window = TWSMaintenanceWindow(startSecondOfDay: 0, duration: .seconds(15))
        let clock = ShiftedWallTime()
        let client = TWSClient(
            host: "127.0.0.1", port: fake.port, settings: Self.settings(window: window), clock: clock,
            logger: Logger(label: "test"))
        let seen = Collector(client)
        await client.start()
        try await seen.wait("the API to start") { $0.contains(where: Self.started) }
        let day: Int64 = 86_400 * 1_000_000_000
        clock.moveTo(Timestamp(nanoseconds: (clock.now().nanoseconds / day + 1) * day + 500_000_000))
        fake.dropConnection()
        try await seen.wait("a planned disconnect, then a start after the window", seconds: 90) { outputs in
            outputs.contains { if case .event(.plannedDisconnect) = $0 { true } else { false } }
                && outputs.filter(Self.started).count == 2
        }
        await client.stop()
        await fake.stop()
        seen.task.cancel()
    }

    @Test func aRequestBeforeTheAPIStartedIsRefusedNotQueued() async throws {
        let client = TWSClient(
            host: "127.0.0.1", port: 1, settings: Self.settings(), clock: WallTime(), logger: Logger(label: "test"))
        let seen = Collector(client)
        await client.send(.reqPositions)
        try await seen.wait("a refusal") { $0.contains { if case .event(.refused(.reqPositions, _)) = $0 { true } else { false } } }
        await client.stop()
        seen.task.cancel()
    }
}

/// The wall clock, for the shell's tests on real sockets.
struct WallTime: WallClock {
    func now() -> Timestamp { Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1_000_000_000)) }
}

/// The wall clock moved by an offset the test sets: time still passes at the real rate, from a chosen instant.
final class ShiftedWallTime: WallClock, Sendable {
    private let offset = Mutex<Int64>(0)

    func now() -> Timestamp { Timestamp(nanoseconds: WallTime().now().nanoseconds + offset.withLock { $0 }) }

    /// From now on the clock reads `instant` and runs on from there.
    func moveTo(_ instant: Timestamp) {
        let wall = WallTime().now().nanoseconds
        offset.withLock { $0 = instant.nanoseconds - wall }
    }
}
