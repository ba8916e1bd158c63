import ASTTestKit
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process of the benchmark (a worker, astd, or the raw echo child): the test kit's
/// `ChildProcess`, which spawns with only stdio (and an optional passed descriptor) inherited and
/// kills the child when it goes away.
typealias SpawnedProcess = ChildProcess

/// Where a run's files go: a fresh short directory, removed at the end.
typealias ScratchDirectory = TemporaryDirectory

/// Blocking reads and writes of exact byte counts on a descriptor.
enum BlockingIO {
    /// Writes all of `count` bytes; false if the descriptor failed or closed.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        var done = 0
        while done < count {
            let n = write(fd, bytes + done, count - done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Reads exactly `count` bytes; false at end of stream or on an error.
    static func readExactly(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        var done = 0
        while done < count {
            let n = read(fd, buffer + done, count - done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
}
