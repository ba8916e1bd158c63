import Glibc
import Synchronization

/// Writes finished log lines to a descriptor. A log line never crashes the process: write errors are
/// ignored, and a closed pipe does not raise SIGPIPE.
enum LoggingOutput {
    /// Serialises whole lines, so that entries from concurrent tasks never interleave.
    private static let lock = Mutex(())

    /// Writes every byte unless the descriptor fails; retries on EINTR and partial writes.
    static func write(_ bytes: [UInt8], to fd: Int32) {
        lock.withLock { _ in
            withSIGPIPESuppressed {
                var brokenPipe = false
                bytes.withUnsafeBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                        if written > 0 {
                            offset += written
                        } else if written < 0 && errno == EINTR {
                            continue
                        } else {
                            brokenPipe = written < 0 && errno == EPIPE
                            return
                        }
                    }
                }
                return brokenPipe
            }
        }
    }

    /// Runs `body` with SIGPIPE blocked on this thread; when `body` reports a broken pipe, the SIGPIPE
    /// it raised is consumed before the mask is restored, so it is never delivered. A SIGPIPE that
    /// was already pending before stays pending.
    private static func withSIGPIPESuppressed(_ body: () -> Bool) {
        var pipeOnly = sigset_t()
        sigemptyset(&pipeOnly)
        sigaddset(&pipeOnly, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous)
        var pending = sigset_t()
        sigpending(&pending)
        let alreadyPending = sigismember(&pending, SIGPIPE) == 1

        let brokenPipe = body()

        if brokenPipe && !alreadyPending {
            var immediately = timespec(tv_sec: 0, tv_nsec: 0)
            while sigtimedwait(&pipeOnly, nil, &immediately) < 0 && errno == EINTR {}
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
}

/// A process's messages to stderr outside the logger (usage errors, a refused configuration), as whole
/// lines that never interleave with log lines; without Foundation's `FileHandle`.
public enum StandardError {
    /// Writes `text` as it is (the caller ends it with a newline).
    public static func write(_ text: String) {
        LoggingOutput.write(Array(text.utf8), to: STDERR_FILENO)
    }
}
