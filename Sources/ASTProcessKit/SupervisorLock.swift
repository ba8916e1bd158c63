import Glibc

/// Whether astd runs, told without connecting to it. astd holds an exclusive `flock` on
/// `<runtime_dir>/astd.lock` for as long as it runs (the kernel drops it when astd dies, even by
/// SIGKILL). `astctl status` looks at it before it connects: under systemd, a connection to
/// `control.sock` (which systemd holds) would start a stopped ast.service.
public enum SupervisorLock {
    /// The lock file of the astd whose runtime directory is `runtimeDir`.
    public static func path(runtimeDir: String) -> String { "\(runtimeDir)/astd.lock" }

    /// Takes the lock for this astd; the descriptor stays open (close-on-exec, so no child holds
    /// it) for the life of the process. Nil with the reason when it cannot be taken.
    public static func acquire(runtimeDir: String) -> (fd: Int32?, problem: String?) {
        let file = path(runtimeDir: runtimeDir)
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return (nil, "cannot open \(file): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let problem = errno == EWOULDBLOCK ? "another astd holds \(file)" : "cannot lock \(file): \(String(cString: strerror(errno)))"
            close(fd)
            return (nil, problem)
        }
        return (fd, nil)
    }

    /// Whether an astd holds the lock: true or false, or nil when this process cannot tell (the
    /// file cannot be opened for another reason than its absence).
    public static func isHeld(runtimeDir: String) -> Bool? {
        let fd = open(path(runtimeDir: runtimeDir), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? false : nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK ? true : nil
    }
}
