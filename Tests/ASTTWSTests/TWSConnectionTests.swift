import ASTCore
import Testing

@testable import ASTTWS

/// The connection state machine driven with time as an input: no socket, no clock.
@Suite struct TWSConnectionTests {
    static let settings = TWSConnectionSettings(clientId: 7)

    func frame(_ fields: [String]) -> [UInt8] { TWSWire.frame(payload(fields)) }

    func writes(_ actions: [TWSConnection.Action]) -> [[UInt8]] {
        actions.compactMap { (a: TWSConnection.Action) -> [UInt8]? in
            if case .write(let b) = a { return b }
            return nil
        }
    }

    func events(_ actions: [TWSConnection.Action]) -> [TWSConnectionEvent] {
        actions.compactMap { (a: TWSConnection.Action) -> TWSConnectionEvent? in
            if case .event(let e) = a { return e }
            return nil
        }
    }

    func outcomes(_ actions: [TWSConnection.Action]) -> [TWSErrorOutcome] {
        events(actions).compactMap { (e: TWSConnectionEvent) -> TWSErrorOutcome? in
            if case .error(_, let o) = e { return o }
            return nil
        }
    }

    /// A connection driven to `started` at server version `version`.
    func started(version: Int = 200, at t: Double = 0) -> (TWSConnection, [TWSConnection.Action]) {
        var c = TWSConnection(settings: Self.settings)
        var all = c.start(now: ts(t))
        all += c.socketOpened(now: ts(t))
        all += c.received(frame(["\(version)", "20261207 07:00:00 EST"]), now: ts(t))
        all += c.received(frame(["15", "1", "DU1234567"]) + frame(["9", "1", "1001"]), now: ts(t))
        return (c, all)
    }

    @Test func handshakeStartApiThenStartedAfterNextValidIdAndManagedAccounts() throws {
        var c = TWSConnection(settings: Self.settings)
        #expect(c.start(now: ts(0)) == [.openSocket, .wake(at: ts(10))])
        #expect(c.phase == .connecting)
        #expect(c.socketOpened(now: ts(0.5)) == [.write(TWSHandshake.hello()), .wake(at: ts(10.5))])
        #expect(c.phase == .handshaking)
        let afterReply = c.received(frame(["200", "20261207 07:00:00 EST"]), now: ts(1))
        #expect(writes(afterReply) == [frame(["71", "2", "7", ""])])  // startApi with the client id
        #expect(c.phase == .starting)
        let a = c.received(frame(["15", "1", "DU1234567"]), now: ts(1.5))
        #expect(a == [.deliver(.managedAccounts(["DU1234567"]))])
        #expect(c.phase == .starting)
        let b = c.received(frame(["9", "1", "1001"]), now: ts(2))
        let session = TWSSession(serverVersion: v200, connectionTime: "20261207 07:00:00 EST", accounts: ["DU1234567"], nextValidId: 1001)
        #expect(b == [.deliver(.nextValidId(1001)), .event(.started(session))])
        #expect(c.phase == .started && c.session == session)
    }

    @Test func aServerAtTheMinimumStartsAndItsVersionIsUsed() {
        let (c, _) = started(version: 190)
        #expect(c.phase == .started && c.session?.serverVersion == v190)
    }

    @Test func aServerOlderThanTheMinimumIsRefusedWithAClearError() {
        var c = TWSConnection(settings: Self.settings)
        _ = c.start(now: ts(0))
        _ = c.socketOpened(now: ts(0))
        let a = c.received(frame(["176", "20261207 07:00:00 EST"]), now: ts(1))
        #expect(a.first == .closeSocket)
        #expect(writes(a).isEmpty)  // no startApi to a server AST cannot speak to
        guard case .disconnected(let reason, let at) = events(a).first else {
            Issue.record("no disconnect")
            return
        }
        #expect(reason == .serverTooOld(176))
        #expect(reason.description.contains("upgrade TWS or IB Gateway"))
        #expect(at == ts(61))  // not retried quickly: it will not have changed in a second
        #expect(c.phase == .waitingToReconnect)
    }

    @Test func aServerAnsweringAboveTheRequestedRangeIsRefused() {
        var c = TWSConnection(settings: Self.settings)
        _ = c.start(now: ts(0))
        _ = c.socketOpened(now: ts(0))
        let a = c.received(frame(["203", "t"]), now: ts(0))
        #expect(events(a).first == .disconnected(.serverVersionUnexpected(203), reconnectAt: ts(60)))
    }

    @Test func eachPhaseTimesOut() {
        var c = TWSConnection(settings: Self.settings)
        _ = c.start(now: ts(0))
        #expect(c.tick(now: ts(9.9)).isEmpty)
        #expect(events(c.tick(now: ts(10))) == [.disconnected(.timedOut(.connecting), reconnectAt: ts(11))])
        _ = c.tick(now: ts(11))  // reconnects
        #expect(c.phase == .connecting)
        _ = c.socketOpened(now: ts(11))
        #expect(events(c.tick(now: ts(21))) == [.disconnected(.timedOut(.handshaking), reconnectAt: ts(23))])
        _ = c.tick(now: ts(23))
        _ = c.socketOpened(now: ts(23))
        _ = c.received(frame(["200", "t"]), now: ts(23))
        _ = c.received(frame(["9", "1", "5"]), now: ts(24))  // nextValidId but no managedAccounts
        #expect(events(c.tick(now: ts(33))) == [.disconnected(.timedOut(.starting), reconnectAt: ts(37))])
    }

    @Test func backOffDoublesToItsCapAndResetsAfterAStableSession() {
        var c = TWSConnection(settings: Self.settings)
        var now = 0.0
        var delays: [Double] = []
        _ = c.start(now: ts(now))
        for _ in 0..<9 {
            let a = c.socketFailed(now: ts(now), reason: "ECONNREFUSED")
            guard case .disconnected(.connectFailed("ECONNREFUSED"), let at?) = events(a).first else {
                Issue.record("no retry")
                return
            }
            delays.append(Double(at.nanoseconds) / 1e9 - now)
            now = Double(at.nanoseconds) / 1e9
            _ = c.tick(now: ts(now))
        }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60, 60])
        // A session that lasts past `stableAfter` resets the back-off.
        _ = c.socketOpened(now: ts(now))
        _ = c.received(frame(["200", "t"]) + frame(["15", "1", "DU1"]) + frame(["9", "1", "1"]), now: ts(now))
        #expect(c.phase == .started)
        let a = c.socketClosed(now: ts(now + 61))
        #expect(events(a) == [.disconnected(.closedByPeer, reconnectAt: ts(now + 62))])
    }

    @Test func clientIdInUseClosesAndWaitsTheLongestDelay() {
        var c = TWSConnection(settings: Self.settings)
        _ = c.start(now: ts(0))
        _ = c.socketOpened(now: ts(0))
        _ = c.received(frame(["200", "t"]), now: ts(0))
        let a = c.received(frame(["4", "-1", "326", "Unable to connect as the client id is already in use.", "", "0"]), now: ts(1))
        #expect(a.contains(.closeSocket))
        #expect(events(a).last == .disconnected(.clientIdInUse, reconnectAt: ts(61)))
    }

    @Test func connectivityLostAndRestoredAreReportedAndTracked() {
        var (c, _) = started()
        let lost = c.received(
            frame(["4", "-1", "1100", "Connectivity between IB and Trader Workstation has been lost.", "", "1"]), now: ts(5))
        #expect(outcomes(lost) == [.connectivityLost])
        #expect(!c.ibReachable && c.phase == .started)  // TWS is up; IB is not: the owner halts
        let back = c.received(frame(["4", "-1", "1102", "Connectivity restored - data maintained.", "", "2"]), now: ts(9))
        #expect(outcomes(back) == [.connectivityRestored(marketDataLost: false)])
        #expect(c.ibReachable)
        _ = c.received(frame(["4", "-1", "1100", "lost", "", "3"]), now: ts(10))
        let lostData = c.received(frame(["4", "-1", "1101", "Connectivity restored - data lost.", "", "4"]), now: ts(11))
        #expect(outcomes(lostData) == [.connectivityRestored(marketDataLost: true)])
    }

    @Test func requestsBeforeStartAreRefusedNotQueued() {
        var c = TWSConnection(settings: Self.settings)
        _ = c.start(now: ts(0))
        let a = c.send(.reqOpenOrders, now: ts(0))
        #expect(writes(a).isEmpty)
        guard case .refused(.reqOpenOrders, _) = events(a).first else {
            Issue.record("not refused")
            return
        }
    }

    @Test func pacingSendsAtMostFiftyMessagesInAnyWindowOfOnePointOneSeconds() {
        var (c, _) = started()  // startApi spent one token at t=0
        var sentAt: [Int64] = [0]  // nanoseconds
        var a: [TWSConnection.Action] = []
        for _ in 0..<150 { a += c.send(.reqCurrentTime, now: ts(0.5)) }
        sentAt += Array(repeating: ts(0.5).nanoseconds, count: writes(a).count)
        #expect(writes(a).count == 49)
        for _ in 0..<200 {
            guard case .wake(let at) = a.last else { break }
            a = c.tick(now: at)
            sentAt += Array(repeating: at.nanoseconds, count: writes(a).count)
        }
        #expect(sentAt.count == 151)  // all sent in the end
        for t in sentAt {
            #expect(sentAt.filter { $0 >= t && $0 < t + 1_100_000_000 }.count <= 50)
        }
        // 1 + 49 at 0 and 0.5 s, then each token returns 1.1 s after it was spent: 1 + 49 at 1.1 and
        // 1.6, 1 + 49 at 2.2 and 2.7, and the last request at 3.3.
        #expect(Set(sentAt) == Set([0, 0.5, 1.1, 1.6, 2.2, 2.7, 3.3].map { ts($0).nanoseconds }))
    }

    @Test func pacingQueueIsBounded() {
        var settings = Self.settings
        settings.maxQueuedMessages = 3
        var c = TWSConnection(settings: settings)
        _ = c.start(now: ts(0))
        _ = c.socketOpened(now: ts(0))
        _ = c.received(frame(["200", "t"]) + frame(["15", "1", "DU1"]) + frame(["9", "1", "1"]), now: ts(0))
        var refused = 0
        for _ in 0..<60 {
            for e in events(c.send(.reqCurrentTime, now: ts(0))) { if case .refused = e { refused += 1 } }
        }
        #expect(refused == 60 - 49 - 3)
    }

    @Test func aMalformedOrOversizedFrameClosesTheConnection() {
        var (c, _) = started()
        let a = c.received(frame(["9", "1", "notanumber"]), now: ts(1))
        #expect(a.first == .closeSocket)
        #expect(c.phase == .waitingToReconnect)
        var (d, _) = started()
        let b = d.received([0xFF, 0xFF, 0xFF, 0xFF], now: ts(1))
        #expect(
            events(b).first
                == .disconnected(.protocolError(.frameTooLong(length: UInt32.max, limit: TWSWire.maxPayloadLength)), reconnectAt: ts(2)))
    }

    @Test func stopClosesAndDoesNotReconnect() {
        var (c, _) = started()
        #expect(c.stop(now: ts(1)) == [.closeSocket, .event(.disconnected(.stopped, reconnectAt: nil))])
        #expect(c.phase == .stopped)
        #expect(c.tick(now: ts(1000)).isEmpty)
    }
}

@Suite struct TWSErrorOutcomeTests {
    func outcome(_ code: Int32, id: Int32 = 5) -> TWSErrorOutcome {
        TWSErrorOutcome(TWSErrorMessage(id: id, code: code, message: "", advancedOrderRejectJson: "", time: 0))
    }

    @Test func codesMapToTypedOutcomes() {
        for code: Int32 in [201, 103, 110] { #expect(outcome(code) == .orderRejected(orderId: 5, code: code)) }
        #expect(outcome(202) == .orderCancelled(orderId: 5))
        #expect(outcome(161) == .cancelRefused(orderId: 5, code: 161))
        #expect(outcome(1100, id: -1) == .connectivityLost)
        #expect(outcome(1101, id: -1) == .connectivityRestored(marketDataLost: true))
        #expect(outcome(1102, id: -1) == .connectivityRestored(marketDataLost: false))
        for code: Int32 in [2104, 2106, 2158] {
            #expect(outcome(code, id: -1) == .farmStatus(code: code))
            #expect(!outcome(code, id: -1).isAlarm)
        }
        #expect(outcome(326, id: -1) == .clientIdInUse)
        #expect(outcome(502, id: -1) == .notConnected(code: 502))
        #expect(outcome(504, id: -1) == .notConnected(code: 504))
        #expect(outcome(100) == .pacingViolation)
        #expect(outcome(9999) == .other(id: 5, code: 9999))
        #expect(outcome(1100, id: -1).isAlarm && outcome(201).isAlarm)
    }
}

@Suite struct TWSMaintenanceWindowTests {
    /// 04:45 UTC for 30 minutes (IB Gateway's restart at 23:45 New York in winter).
    static let window = TWSMaintenanceWindow(startSecondOfDay: 4 * 3600 + 45 * 60, duration: .seconds(30 * 60))
    /// 2026-12-07T00:00:00Z.
    static let midnight = 1_796_601_600.0

    @Test func windowContainsItsOwnMinutesOnly() {
        let w = Self.window
        #expect(w.end(containing: ts(Self.midnight + 4 * 3600 + 44 * 60)) == nil)
        #expect(w.end(containing: ts(Self.midnight + 4 * 3600 + 45 * 60)) == ts(Self.midnight + 5 * 3600 + 15 * 60))
        #expect(w.end(containing: ts(Self.midnight + 5 * 3600 + 14 * 60)) == ts(Self.midnight + 5 * 3600 + 15 * 60))
        #expect(w.end(containing: ts(Self.midnight + 5 * 3600 + 15 * 60)) == nil)
        // A window across midnight: 23:50 for 20 minutes.
        let late = TWSMaintenanceWindow(startSecondOfDay: 23 * 3600 + 50 * 60, duration: .seconds(20 * 60))
        #expect(late.end(containing: ts(Self.midnight + 5 * 60)) == ts(Self.midnight + 10 * 60))
        #expect(late.end(containing: ts(Self.midnight - 5 * 60)) == ts(Self.midnight + 10 * 60))
    }

    @Test func aDisconnectInTheNightlyRestartIsPlannedAndWaitsForItsEnd() {
        var settings = TWSConnectionSettings(clientId: 7)
        settings.maintenanceWindow = Self.window
        var c = TWSConnection(settings: settings)
        let t = Self.midnight + 4 * 3600 + 46 * 60
        _ = c.start(now: ts(t))
        _ = c.socketOpened(now: ts(t))
        _ = c.received(
            TWSWire.frame(payload(["200", "x"])) + TWSWire.frame(payload(["15", "1", "DU1"])) + TWSWire.frame(payload(["9", "1", "1"])),
            now: ts(t))
        let end = ts(Self.midnight + 5 * 3600 + 15 * 60)
        let a = c.socketClosed(now: ts(t + 1))
        #expect(a == [.event(.plannedDisconnect(until: end)), .event(.disconnected(.closedByPeer, reconnectAt: end)), .wake(at: end)])
        // Refused connections during the restart wait for the window's end too, without back-off.
        _ = c.tick(now: end.advanced(by: .seconds(-1)))
        #expect(c.phase == .waitingToReconnect)
        _ = c.tick(now: end)
        let refused = c.socketFailed(now: end, reason: "ECONNREFUSED")
        #expect(refused.contains(.event(.disconnected(.connectFailed("ECONNREFUSED"), reconnectAt: end.advanced(by: .seconds(1))))))
    }

    @Test func aProtocolErrorInsideTheWindowIsNotPlanned() {
        var settings = TWSConnectionSettings(clientId: 7)
        settings.maintenanceWindow = Self.window
        var c = TWSConnection(settings: settings)
        let t = Self.midnight + 4 * 3600 + 50 * 60
        _ = c.start(now: ts(t))
        _ = c.socketOpened(now: ts(t))
        let a = c.received(TWSWire.frame(payload(["150", "x"])), now: ts(t))
        #expect(!a.contains { if case .event(.plannedDisconnect) = $0 { true } else { false } })
    }
}
