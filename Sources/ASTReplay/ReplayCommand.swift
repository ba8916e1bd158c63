import ASTCore
import Foundation

/// What `astctl replay` does, apart from parsing its arguments and loading the configuration
/// (kept here: astctl is a single-file executable).
public enum ReplayCommandRunner {
    /// The outcome of a command: what to print and the exit code (0 identical/ok, 1 diverged or
    /// damaged, 2 unusable input).
    public struct Outcome: Sendable {
        public var stdout: String
        public var stderr: String
        public var exitCode: Int32
    }

    /// Builds and prints the timeline, or (`verify`) re-executes every journal. A bundle's own
    /// replay configuration wins over `config`; a bundle is checked against its manifest first.
    public static func run(directory: String, filter: TimelineFilter, json: Bool, verify: Bool, config: ReplaySettings?) -> Outcome {
        do {
            let journals = try JournalDirectory(path: directory)
            let bundle = ReplayBundle.isBundle(directory)
            if verify {
                var problems: [String] = []
                var replayConfig = config ?? ReplaySettings()
                if bundle {
                    problems = ReplayBundle.checkManifest(directory)
                    replayConfig = try ReplayBundle.replayConfig(in: directory)
                }
                let report = ReplayVerifier.verify(journals, config: replayConfig)
                let ok = report.identical && problems.isEmpty
                let text: String
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                    text = String(decoding: try encoder.encode(report), as: UTF8.self)
                } else {
                    text = (problems.map { "BUNDLE: \($0)" } + [report.text()]).joined(separator: "\n")
                }
                return Outcome(
                    stdout: text + "\n", stderr: problems.isEmpty ? "" : problems.joined(separator: "\n") + "\n", exitCode: ok ? 0 : 1)
            }
            let timeline = try Timeline.build(journals, filter: filter)
            if json { return Outcome(stdout: String(decoding: try timeline.json(), as: UTF8.self) + "\n", stderr: "", exitCode: 0) }
            let footer = "\(timeline.events.count) events of \(timeline.entriesRead) entries in \(journals.files.count) journals"
            return Outcome(stdout: timeline.table() + "\n" + footer + "\n", stderr: "", exitCode: 0)
        } catch {
            return Outcome(stdout: "", stderr: "astctl replay: \(error)\n", exitCode: 2)
        }
    }

    /// `astctl replay --verify --from-checkpoint`: each journal of `processes` (all when empty)
    /// that has checkpoints, re-executed from the checkpoint at entry `checkpoint` (nil: its
    /// newest one that has a later one) up to the next (``ReplayVerifier/verifyFromCheckpoint(path:config:checkpoint:)``).
    /// A seq is a position in one journal: with a seq, name one process.
    public static func runFromCheckpoint(
        directory: String, processes: Set<String>, checkpoint: Int64?, json: Bool, config: ReplaySettings?
    ) -> Outcome {
        do {
            let journals = try JournalDirectory(path: directory)
            var replayConfig = config ?? ReplaySettings()
            if ReplayBundle.isBundle(directory) { replayConfig = try ReplayBundle.replayConfig(in: directory) }
            let paths = journals.files.filter { path in
                processes.isEmpty || processes.contains(((path as NSString).lastPathComponent as NSString).deletingPathExtension)
            }
            guard !paths.isEmpty else {
                return Outcome(stdout: "", stderr: "astctl replay: no journal of \(processes.sorted())\n", exitCode: 2)
            }
            guard checkpoint == nil || paths.count == 1 else {
                return Outcome(stdout: "", stderr: "astctl replay: --from-checkpoint <seq> needs one --process\n", exitCode: 2)
            }
            var reports = paths.map { ReplayVerifier.verifyFromCheckpoint(path: $0, config: replayConfig, checkpoint: checkpoint) }
            if checkpoint == nil && processes.isEmpty {
                // Over a whole directory, the journals without checkpoints are not the question.
                reports = reports.filter { !$0.checkpoints.isEmpty }
                guard !reports.isEmpty else {
                    return Outcome(stdout: "", stderr: "astctl replay: no journal has a checkpoint\n", exitCode: 2)
                }
            }
            let ok = reports.allSatisfy(\.identical)
            let text: String
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                text = String(decoding: try encoder.encode(reports), as: UTF8.self)
            } else {
                text = (reports.map { $0.text() } + [ok ? "replay from checkpoint: IDENTICAL" : "replay from checkpoint: NOT IDENTICAL"])
                    .joined(separator: "\n")
            }
            return Outcome(stdout: text + "\n", stderr: "", exitCode: ok ? 0 : 1)
        } catch {
            return Outcome(stdout: "", stderr: "astctl replay: \(error)\n", exitCode: 2)
        }
    }

    /// A time for `--from`/`--to`: nanoseconds since the epoch, `YYYY-MM-DD` (midnight UTC) or
    /// ISO 8601 (`2025-07-01T13:30:00Z`, UTC when no zone is given).
    public static func parseTime(_ text: String) -> Timestamp? {
        if let ns = Int64(text) { return Timestamp(nanoseconds: ns) }
        if text.count == 10, let day = ChainMatcher.day(text) { return Timestamp(nanoseconds: day) }
        var s = text
        if !(s.hasSuffix("Z") || s.dropFirst(19).contains("+") || s.dropFirst(19).contains("-")) { s += "Z" }
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: s) { return Timestamp(nanoseconds: Int64((date.timeIntervalSince1970 * 1e9).rounded())) }
        }
        return nil
    }
}
