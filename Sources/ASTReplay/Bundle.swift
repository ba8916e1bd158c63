import ASTJournal
import CSHA256
import Foundation

/// A self-contained replay bundle, written by `astctl journal export`:
/// `journal/*.sqlite` (consistent copies of every journal), `config/` (the configuration layers
/// with secret-like values redacted, and `replay.json`: what replay needs of it),
/// `versions.json` and `manifest.json` (SHA-256 and size of every other file).
public enum ReplayBundle {
    public static let manifestName = "manifest.json"
    public static let replayConfigPath = "config/replay.json"
    public static let format = "ast-replay-bundle/1"

    /// One file of the bundle.
    public struct File: Sendable, Codable, Equatable {
        public var path: String
        public var bytes: Int
        public var sha256: String
    }

    /// `manifest.json`.
    public struct Manifest: Sendable, Codable, Equatable {
        public var format: String
        public var createdAt: String
        public var files: [File]

        enum CodingKeys: String, CodingKey { case format, createdAt = "created_at", files }
    }

    /// Writes a bundle into `out` (created; must be empty or absent): copies every journal of
    /// `journalDirectory` with SQLite's online backup (consistent even while the tree runs),
    /// the configuration texts (`name -> contents`, redacted here), `replayConfig`, `versions`.
    @discardableResult
    public static func export(
        journalDirectory: String, to out: String, configFiles: [String: String],
        replayConfig: ReplaySettings, versions: [String: String]
    ) throws -> Manifest {
        let fm = FileManager.default
        if let existing = try? fm.contentsOfDirectory(atPath: out), !existing.isEmpty {
            throw ReplayError("\(out) is not empty; give a new directory for the bundle")
        }
        let journals = try JournalDirectory(path: journalDirectory)
        try fm.createDirectory(atPath: "\(out)/journal", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: "\(out)/config", withIntermediateDirectories: true)
        var paths: [String] = []
        for file in journals.files {
            let name = "journal/" + URL(fileURLWithPath: file).lastPathComponent
            try JournalReader(path: file).backup(to: "\(out)/\(name)")
            paths.append(name)
            // Archived segments travel with their journal, under the same relative name.
            let segments = JournalSegments.all(forLive: file)
            if !segments.isEmpty {
                let segmentDir = "journal/" + URL(fileURLWithPath: JournalSegments.directory(forLive: file)).lastPathComponent
                try fm.createDirectory(atPath: "\(out)/\(segmentDir)", withIntermediateDirectories: true)
                for segment in segments {
                    let segmentName = "\(segmentDir)/" + URL(fileURLWithPath: segment.path).lastPathComponent
                    try JournalReader(path: segment.path).backup(to: "\(out)/\(segmentName)")
                    paths.append(segmentName)
                }
            }
        }
        for (name, text) in configFiles.sorted(by: { $0.key < $1.key }) {
            try Data(redact(text).utf8).write(to: URL(fileURLWithPath: "\(out)/config/\(name)"))
            paths.append("config/\(name)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(replayConfig).write(to: URL(fileURLWithPath: "\(out)/\(replayConfigPath)"))
        paths.append(replayConfigPath)
        try encoder.encode(versions).write(to: URL(fileURLWithPath: "\(out)/versions.json"))
        paths.append("versions.json")

        var files: [File] = []
        for path in paths.sorted() {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(path)"))
            files.append(File(path: path, bytes: data.count, sha256: sha256Hex(data)))
        }
        let manifest = Manifest(format: format, createdAt: ISO8601DateFormatter().string(from: Date()), files: files)
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: "\(out)/\(manifestName)"))
        return manifest
    }

    /// Whether `dir` is a bundle (it has a manifest).
    public static func isBundle(_ dir: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(dir)/\(manifestName)")
    }

    /// The replay configuration a bundle carries.
    public static func replayConfig(in dir: String) throws -> ReplaySettings {
        do {
            return try JSONDecoder().decode(ReplaySettings.self, from: Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(replayConfigPath)")))
        } catch {
            throw ReplayError("the bundle's \(replayConfigPath) cannot be read: \(error)")
        }
    }

    /// Checks every file of a bundle against its manifest; returns what does not match.
    public static func checkManifest(_ dir: String) -> [String] {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(manifestName)")),
            let manifest = try? JSONDecoder().decode(Manifest.self, from: data)
        else { return ["\(manifestName) is missing or unreadable"] }
        var problems: [String] = []
        for file in manifest.files {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(file.path)")) else {
                problems.append("\(file.path): missing")
                continue
            }
            if sha256Hex(data) != file.sha256 { problems.append("\(file.path): SHA-256 differs from the manifest (changed since export)") }
        }
        return problems
    }

    /// The text with the value of every key that looks secret (token, key, password, secret,
    /// credential) replaced by `<redacted>`; works for YAML `key: value` and `KEY=value` lines.
    public static func redact(_ text: String) -> String {
        let secretWords = ["token", "key", "password", "passwd", "secret", "credential"]
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let s = String(line)
            guard let sep = s.firstIndex(where: { $0 == ":" || $0 == "=" }) else { return s }
            let key = s[..<sep].trimmingCharacters(in: .whitespaces).lowercased()
            guard !key.hasPrefix("#"), secretWords.contains(where: { key.contains($0) }) else { return s }
            let value = s[s.index(after: sep)...].trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty else { return s }
            return String(s[...sep]) + (s[sep] == ":" ? " " : "") + "<redacted>"
        }.joined(separator: "\n")
    }

    /// SHA-256 of `data`, lowercase hex.
    public static func sha256Hex(_ data: Data) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        data.withUnsafeBytes { raw in ast_sha256(raw.baseAddress, raw.count, &digest) }
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}

extension ReplayBundle {
    /// The versions recorded in `versions.json`: the bundle format, the Swift compiler that
    /// built astctl, the OS, and the git commit when `AST_GIT_COMMIT` names it.
    public static func versions(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        #if compiler(>=6.3)
            let swift = ">=6.3"
        #elseif compiler(>=6.1)
            let swift = ">=6.1"
        #else
            let swift = "<6.1"
        #endif
        return [
            "bundle_format": format, "swift_compiler": swift,
            "os": ProcessInfo.processInfo.operatingSystemVersionString,
            "git_commit": environment["AST_GIT_COMMIT"] ?? "unknown (set AST_GIT_COMMIT when exporting)",
            "journal_format": "1",
        ]
    }
}
