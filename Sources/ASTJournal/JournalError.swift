/// Why a journal could not be opened, appended to or read, in words an operator can act on.
public enum JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file exists but is not an AST journal this build can use.
    case notAJournal(path: String, detail: String)
    /// The journal is damaged; a process must not append onto it.
    case damaged(path: String, damage: JournalDamage)
    /// The journal was created by another process.
    case belongsToAnotherProcess(path: String, owner: String, opener: String)
    /// `close()` was called; the journal accepts no further appends or reads.
    case closed(path: String)
    /// A commit failed; the entries it held are lost and the journal refuses further appends.
    case commitFailed(path: String, seqs: ClosedRange<Int64>, cause: String)
    /// SQLite failed while opening or reading.
    case storage(path: String, operation: String, cause: String)

    public var path: String {
        switch self {
        case .notAJournal(let path, _), .damaged(let path, _), .belongsToAnotherProcess(let path, _, _),
            .closed(let path), .commitFailed(let path, _, _), .storage(let path, _, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case .notAJournal(let path, let detail):
            return "journal \(path): not an AST journal (\(detail)); move the file aside or fix the journal path in the configuration"
        case .damaged(let path, let damage):
            return "journal \(path): \(damage.detail); run `astctl journal verify \(path)` and see runbooks/journal-verification-failed.md"
        case .belongsToAnotherProcess(let path, let owner, let opener):
            return "journal \(path) belongs to process \(owner), not \(opener); fix the journal path in the configuration"
        case .closed(let path):
            return "journal \(path) is closed; nothing can be appended or read through this handle"
        case .commitFailed(let path, let seqs, let cause):
            return "journal \(path): could not commit entries \(seqs.lowerBound)...\(seqs.upperBound) (\(cause)); "
                + "the journal refuses further appends: restart the process, it resumes from the last committed entry"
        case .storage(let path, let operation, let cause):
            return "journal \(path): SQLite failed while \(operation) (\(cause)); check the disk and the file's permissions"
        }
    }
}
