import ASTCore
import ASTJournal
import ASTRisk
import ASTTestKit
import Foundation
import GRDB
import Testing

/// `astctl replay` (M7) over the journals of a real demo run: the re-execution finds them
/// identical, a bundle exported from them replays the same, and an edited input is named.
@Suite(.serialized) struct ReplayTests {
    static let replay = SupervisedTree.replay(sessions: 5)

    @Test(.timeLimit(.minutes(4)))
    func aDemoRunReplaysIdenticallyAndAnEditedInputIsNamed() async throws {
        let tree = try await SupervisedTree(overlay: Self.replay)
        _ = try await tree.waitAllReady(timeout: .seconds(60))
        try await eventually(timeout: .seconds(180), every: .milliseconds(500), "the replay to finish") {
            guard let (s, _) = try tree.status() else { return false }
            return s.children.first { $0.name == "marketdata@main" }?.statusText?.hasPrefix("replay finished") == true
        }

        // The live journals, while the tree runs.
        let live = try tree.astctl(["replay", "--verify"])
        #expect(live.code == 0, "\(live.stdout)\(live.stderr)")
        #expect(live.stdout.contains("replay: IDENTICAL"))
        #expect(live.stdout.contains("risk@main") && live.stdout.contains("reconciler@main") && live.stdout.contains("broker@paper"))

        // The timeline has the whole chain.
        let timeline = try tree.astctl(["replay", "--json"])
        #expect(timeline.code == 0, "\(timeline.stderr)")
        let events = try JSONSerialization.jsonObject(with: Data(timeline.stdout.utf8)) as? [[String: Any]] ?? []
        let kinds = Set(events.compactMap { $0["kind"] as? String })
        #expect(kinds.isSuperset(of: ["bar", "scan", "intent", "decision", "order", "fill", "position", "reconciliation"]), "\(kinds)")

        // A bundle replays the same.
        let bundle = tree.dir("bundle")
        let export = try tree.astctl(["journal", "export", "--out", bundle])
        #expect(export.code == 0, "\(export.stdout)\(export.stderr)")
        let fromBundle = try tree.astctl(["replay", bundle, "--verify"])
        #expect(fromBundle.code == 0, "\(fromBundle.stdout)\(fromBundle.stderr)")

        // Edit one recorded intent in a copy: --verify names that entry.
        let copy = tree.dir("edited")
        try FileManager.default.copyItem(atPath: bundle + "/journal", toPath: copy)
        let seq = try Self.editFirstIntent(path: copy + "/risk@main.sqlite")
        let edited = try tree.astctl(["replay", copy, "--verify"])
        #expect(edited.code == 1, "\(edited.stdout)\(edited.stderr)")
        #expect(edited.stdout.contains("editedEntry at entry \(seq)"), "the hash chain names it: \(edited.stdout)")
        #expect(edited.stdout.contains("DIVERGED at risk@main entry \(seq) (risk.input)"), "replay names it: \(edited.stdout)")
    }

    /// Renames the intent of the first journaled intent input in place (its hash left as it
    /// was, as an edit by hand would); returns that entry's seq.
    static func editFirstIntent(path: String) throws -> Int64 {
        let queue = try DatabaseQueue(path: path)
        let seq: Int64 = try queue.write { db in
            let row = try #require(
                try Row.fetchOne(
                    db,
                    sql: """
                        SELECT seq, body FROM entries WHERE type = 'risk.input' AND CAST(body AS TEXT) LIKE '{"intent":%' ORDER BY seq LIMIT 1
                        """))
            let seq: Int64 = row[0]
            let data: Data = row[1]
            let body = String(decoding: data, as: UTF8.self)
            let input = try JSONDecoder().decode(RiskInput.self, from: Data(body.utf8))
            guard case .intent(let g) = input else { throw HarnessError("entry \(seq) is not an intent") }
            let edited = body.replacingOccurrences(of: "\"\(g.id.rawValue)\"", with: "\"\(g.id.rawValue)X\"")
            try db.execute(sql: "UPDATE entries SET body = ? WHERE seq = ?", arguments: [Data(edited.utf8), seq])
            return seq
        }
        try queue.close()
        return seq
    }
}
