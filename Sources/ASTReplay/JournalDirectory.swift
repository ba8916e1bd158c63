import ASTJournal
import Foundation

/// The journals of one tree: every `*.sqlite` file of a directory (the live
/// `<state_dir>/journal`, or the `journal/` directory of an exported bundle).
public struct JournalDirectory: Sendable {
    /// The directory holding the journal files.
    public var path: String
    /// The journal files, sorted by name.
    public var files: [String]

    /// Finds the journals of `path`: the directory itself, or the `journal/` directory of a
    /// bundle made by ``ReplayBundle/export(journalDirectory:to:configFiles:replayConfig:versions:)``.
    public init(path: String) throws(ReplayError) {
        var dir = path
        if FileManager.default.fileExists(atPath: "\(path)/\(ReplayBundle.manifestName)") { dir = "\(path)/journal" }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw ReplayError(
                "\(dir) is not a readable directory; give the journal directory (<state_dir>/journal) or a bundle from `astctl journal export`"
            )
        }
        let files = names.filter { $0.hasSuffix(".sqlite") }.sorted().map { "\(dir)/\($0)" }
        guard !files.isEmpty else { throw ReplayError("no journal (*.sqlite) in \(dir)") }
        self.path = dir
        self.files = files
    }
}

/// Why replay could not run at all (an unreadable directory, a damaged bundle ...).
public struct ReplayError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
