import Glibc
import Logging

/// Process-wide logging set-up for AST executables: journald when systemd connected stderr to the
/// journal, stderr otherwise.
public enum ASTLogging {
    /// Where a process's log entries go.
    public enum Destination: String, Sendable, Equatable {
        /// Structured entries to journald (`JournaldLogHandler`).
        case journald
        /// One line per entry on stderr (`StderrLogHandler`).
        case stderr
    }

    /// Installs AST's handlers as the process's swift-log backend and returns where entries go.
    ///
    /// Call it once, first thing in `main`: swift-log allows one bootstrap per process. Libraries and
    /// tests never call it; tests build handlers directly.
    @discardableResult
    public static func bootstrap(
        processName: String,
        level: Logger.Level,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> Destination {
        let destination = detectDestination()
        LoggingSystem.bootstrap(
            { label, provider in
                makeHandler(
                    label: label, processName: processName, level: level, destination: destination,
                    metadataProvider: provider)
            },
            metadataProvider: metadataProvider)
        return destination
    }

    /// The handler for one logger at the given destination.
    public static func makeHandler(
        label: String,
        processName: String,
        level: Logger.Level,
        destination: Destination,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> any LogHandler {
        switch destination {
        case .journald:
            JournaldLogHandler(
                label: label, processName: processName, level: level, metadataProvider: metadataProvider)
        case .stderr:
            StderrLogHandler(label: label, level: level, metadataProvider: metadataProvider)
        }
    }

    /// journald's socket for native-protocol entries.
    public static let journalSocketPath = "/run/systemd/journal/socket"

    /// Where this process's entries should go, from its environment, its stderr and the file system
    /// (see `destination(journalStream:stderrDevice:stderrInode:journalSocketExists:)`).
    public static func detectDestination() -> Destination {
        guard let value = getenv("JOURNAL_STREAM") else { return .stderr }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return .stderr }
        return destination(
            journalStream: String(cString: value), stderrDevice: UInt64(info.st_dev), stderrInode: UInt64(info.st_ino),
            journalSocketExists: access(journalSocketPath, F_OK) == 0)
    }

    /// `.journald` when `JOURNAL_STREAM` names the device and inode of this process's stderr, which
    /// is how systemd says "your stderr is the journal" (a child that inherited the variable but not
    /// the descriptor does not match), and journald's native socket is there; `.stderr` otherwise.
    /// The socket matters because libsystemd silently drops entries when it is missing (a
    /// `RootDirectory=` sandbox, say), while stderr still reaches the journal.
    public static func destination(
        journalStream: String?, stderrDevice: UInt64, stderrInode: UInt64, journalSocketExists: Bool
    ) -> Destination {
        guard journalSocketExists,
            Self.journalStream(journalStream, matchesDevice: stderrDevice, inode: stderrInode)
        else { return .stderr }
        return .journald
    }

    /// Whether a `JOURNAL_STREAM` value (`<device>:<inode>`, both decimal) names this device and inode.
    public static func journalStream(_ value: String?, matchesDevice device: UInt64, inode: UInt64) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2,
            parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }),
            let parsedDevice = UInt64(parts[0]), let parsedInode = UInt64(parts[1])
        else { return false }
        return parsedDevice == device && parsedInode == inode
    }
}

extension Logger.Level {
    /// Parses a level as written in configuration: `trace`, `debug`, `info`, `notice`, `warning`,
    /// `error` or `critical`, in any letter case, surrounding whitespace ignored. Nil for anything
    /// else; `Logger.Level.allCases` lists the accepted names for the error message.
    public init?(configString: String) {
        let trimmed = configString.trimmingASCIIWhitespace().lowercased()
        guard let level = Logger.Level(rawValue: trimmed) else { return nil }
        self = level
    }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
