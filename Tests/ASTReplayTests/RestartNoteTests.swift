import ASTCore
import ASTJournal
import ASTNotify
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

@testable import ASTReplay

/// Strategy, market data and notifier are not re-executed, but a crash between an input and its
/// output is recognised from the journal's shape (``RestartNoteReplayer``): noted once, only when
/// the restarted process produces the interrupted input's output, never a divergence.
@Suite struct RestartNoteTests {
    func write(_ path: String, process: String, _ records: [JournalRecord]) throws {
        let journal = try Journal(path: path, process: process, logger: Logger(label: "test"))
        defer { try? journal.close() }
        for r in records { try journal.append(r, durability: .batched) }
    }

    /// The notes and inputs of a replayer fed every entry of the journal: replay's scan builds only
    /// the entries of the replayer's types (``RestartNoteReplayer/types``) and must say the same.
    func unfiltered(_ path: String, _ rule: RestartNoteReplayer.Rule) throws -> (notes: [String], inputs: Int) {
        let reader = try JournalReader(path: path)
        var replayer = RestartNoteReplayer(process: reader.process, rule: rule)
        try reader.scan { entry in
            replayer.feed(entry)
            return true
        }
        return (replayer.notes, replayer.inputs)
    }

    /// An entry of a type the replayer does not read (its body is not even JSON).
    func other(_ type: String, _ kind: EntryKind, _ t: Timestamp) -> JournalRecord {
        JournalRecord(kind: kind, type: type, timestamp: t, messageID: "x\(t.nanoseconds)", peer: "astd", body: Array("not json".utf8))
    }

    func started(_ t: Timestamp) -> JournalRecord {
        JournalRecord(kind: .state, type: EntryTypes.processStarted, timestamp: t, body: [])
    }

    func marketData(_ type: String, _ t: Timestamp) throws -> JournalRecord {
        let p = EntryTypes.MarketData.Progress(time: t, session: "2025-07-01", index: 1, of: 1, what: "bars")
        return JournalRecord(
            kind: type == EntryTypes.MarketData.beat ? .decision : .state, type: type, timestamp: t, body: Array(try sorted.encode(p)))
    }

    @Test func aMarketDataBeatPlayedAgainAfterARestartIsOneNote() throws {
        let dir = try TemporaryDirectory(prefix: "replay-restart-note")
        defer { dir.remove() }
        let (beat, progress) = (EntryTypes.MarketData.beat, EntryTypes.MarketData.progress)
        try write(
            dir("marketdata@main.sqlite"), process: "marketdata@main",
            [
                started(t0), try marketData(beat, at(1)), other("market.bar", .sent, at(1)), try marketData(progress, at(1)),
                try marketData(beat, at(2)), other("market.time", .sent, at(2)),
                started(at(3)), try marketData(beat, at(2)), try marketData(progress, at(2)), try marketData(beat, at(4)),
                other(EntryTypes.MarketData.installed, .state, at(4)),
                started(at(5)), try marketData(beat, at(6)), try marketData(progress, at(6)),
            ])
        let r = ReplayVerifier.replay(path: dir("marketdata@main.sqlite"), config: ReplaySettings())
        let all = try unfiltered(dir("marketdata@main.sqlite"), .marketData)
        #expect(r.notes == all.notes && r.inputs == all.inputs && r.entries == 14)
        // The beat at 2 was played again after the first restart; the one at 4 never was (the
        // next run went on at 6): no output of it came late, so no note.
        #expect(r.notes.count == 1 && r.notes[0].contains("a crash between input and output"), "\(r.notes)")
        #expect(r.notes.first?.contains("entry 5 (marketdata.beat)") == true, "\(r.notes)")
        #expect(r.divergenceCount == 0 && !r.reexecuted && r.inputs == 5)
    }

    @Test func aStrategyScheduleDoneOnlyAfterTheRestartIsANote() throws {
        let dir = try TemporaryDirectory(prefix: "replay-restart-note")
        defer { dir.remove() }
        let sender = ProcessIdentity(role: .marketdata)
        func time(_ t: Timestamp, _ id: String) -> JournalRecord {
            message(.received, .marketTime(MarketTime(now: t)), from: sender, id: id, correlation: nil, at: t, peer: "marketdata@main")
        }
        struct Schedule: Encodable { var task: String, time: Timestamp, fired: Bool, detail: String }
        func schedule(_ t: Timestamp) throws -> JournalRecord {
            JournalRecord(
                kind: .decision, type: EntryTypes.Strategy.schedule, timestamp: t,
                body: Array(try sorted.encode(Schedule(task: "full_scan", time: t, fired: true, detail: ""))))
        }
        try write(
            dir("strategy@main.sqlite"), process: "strategy@main",
            [
                started(t0), time(at(1), "m1"), try schedule(at(1)), other("market.bar", .received, at(1)), time(at(2), "m2"),
                other(EntryTypes.Strategy.scan, .decision, at(2)), started(at(3)), try schedule(at(2)),
            ])
        let r = ReplayVerifier.replay(path: dir("strategy@main.sqlite"), config: ReplaySettings())
        #expect(r.notes.count == 1 && r.notes[0].contains("entry 5 (market.time)"), "\(r.notes)")
        let all = try unfiltered(dir("strategy@main.sqlite"), .strategy)
        #expect(r.notes == all.notes && r.inputs == all.inputs && r.entries == 8)
        #expect(r.divergenceCount == 0)
    }

    /// The notifier's note is about the message the interrupted input should have produced: a
    /// process-down event journaled before a crash is matched only by a message that carries the
    /// alert derived from that very event, never by an unrelated later message.
    @Test func aNotifierNoteNeedsTheMessageOfTheInterruptedEventNotAnyLaterOne() throws {
        let astd = ProcessIdentity(role: .supervisor)
        let down = LifecycleEvent(
            kind: .exited, child: ProcessIdentity(role: .strategy), pid: 42, reason: "killed by SIGKILL", onCrash: .noEffect, at: at(1))
        // The identity the notifier keeps it under: the derived key and the envelope's id ("l1" below).
        let key = AlertIdentity.key(try #require(LifecycleAlerts.alert(for: down)?.key), envelopeID: "l1")
        let ready = LifecycleEvent(kind: .ready, child: ProcessIdentity(role: .strategy), pid: 43, at: at(2))
        func sent(_ keys: [String], _ t: Timestamp) throws -> JournalRecord {
            struct Sent: Encodable {
                var id: String, chat = "1", part = 1, parts = 1, mode = "plain"
                var alertKeys: [String]
                enum CodingKeys: String, CodingKey {
                    case id, chat, part, parts, mode
                    case alertKeys = "alert_keys"
                }
            }
            return JournalRecord(
                kind: .decision, type: EntryTypes.Notifier.sent, timestamp: t,
                body: Array(try sorted.encode(Sent(id: "m\(t.nanoseconds)", alertKeys: keys))))
        }
        func journal(_ after: [JournalRecord]) throws -> ProcessReplay {
            let dir = try TemporaryDirectory(prefix: "replay-restart-note")
            defer { dir.remove() }
            try write(
                dir("notifier@main.sqlite"), process: "notifier@main",
                [
                    started(t0), message(.received, .lifecycle(down), from: astd, id: "l1", correlation: nil, at: at(1), peer: "astd"),
                    started(at(3)),
                    // A routine event (no alert, so no output is owed for it).
                    message(.received, .lifecycle(ready), from: astd, id: "l2", correlation: nil, at: at(4), peer: "astd"),
                    other(EntryTypes.Notifier.delivered, .state, at(4)),
                ] + after)
            let r = ReplayVerifier.replay(path: dir("notifier@main.sqlite"), config: ReplaySettings())
            let all = try unfiltered(dir("notifier@main.sqlite"), .notifier)
            #expect(r.notes == all.notes && r.inputs == all.inputs)
            return r
        }
        // An unrelated alert sent after the restart is not the interrupted event's output.
        let unrelated = try journal([try sent(["risk:halted:1"], at(5))])
        #expect(unrelated.notes.isEmpty, "\(unrelated.notes)")
        // The event's own alert, sent (in a digest with another) after the restart, is.
        let own = try journal([try sent(["risk:halted:1"], at(5)), try sent(["other", key], at(6))])
        #expect(own.notes.count == 1 && own.notes[0].contains("entry 2 (lifecycle)"), "\(own.notes)")
        #expect(own.divergenceCount == 0 && own.inputs == 1)
    }
}
