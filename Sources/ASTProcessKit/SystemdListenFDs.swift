import CSystemd
import Glibc

/// One listening socket handed over by the manager: its descriptor and its `LISTEN_FDNAMES` name.
public struct ListenFD: Sendable, Equatable {
    /// The descriptor number, from `ListenFDs.firstDescriptor` upwards.
    public let fd: Int32
    /// The name the manager gave it (`FileDescriptorName=` in a socket unit), `unknown` when unnamed.
    public let name: String

    /// Creates a descriptor/name pair.
    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }
}

/// The listening sockets this process inherited from its manager (systemd or astd) through
/// `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`, as `sd_listen_fds_with_names(3)`.
///
/// The sockets belong to the manager, which keeps them open across restarts of this process:
/// peers that connect while the process restarts wait in the backlog.
public struct ListenFDs: Sendable, Equatable {
    /// The first passed descriptor (`SD_LISTEN_FDS_START`); the others follow without gaps.
    public static let firstDescriptor: Int32 = 3
    /// The name systemd gives a descriptor when `LISTEN_FDNAMES` is absent.
    public static let unnamed = "unknown"

    /// The passed descriptors in order, from `firstDescriptor` upwards.
    public let descriptors: [ListenFD]

    /// Wraps already known descriptors (tests, or a process that received them some other way).
    public init(descriptors: [ListenFD]) {
        self.descriptors = descriptors
    }

    /// Takes the descriptors passed to this process, marks each close-on-exec so that it reaches a
    /// child only when passed explicitly, and (by default) unsets the `LISTEN_*` variables so that
    /// children do not see them. Empty when nothing was passed or `LISTEN_PID` names another process.
    ///
    /// Call it once, early in `main`, before other threads read the environment: unsetting
    /// variables is not thread-safe.
    public static func take(unsetEnvironment: Bool = true) throws(SystemdError) -> ListenFDs {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let returned = sd_listen_fds_with_names(unsetEnvironment ? 1 : 0, &names)
        let copied = copyAndFree(names)
        guard returned >= 0 else {
            throw SystemdError(
                function: "sd_listen_fds_with_names", returned: returned,
                hint: "the parent passed malformed LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES"
                    + " (LISTEN_FDNAMES must hold one name per descriptor)")
        }
        let taken = try pair(count: Int(returned), names: returned > 0 ? copied : nil)
        for descriptor in taken.descriptors {
            let flags = fcntl(descriptor.fd, F_GETFD)
            if flags < 0 || fcntl(descriptor.fd, F_SETFD, flags | FD_CLOEXEC) < 0 {
                throw SystemdError(
                    function: "fcntl(F_SETFD, FD_CLOEXEC)", returned: -errno,
                    hint: "descriptor \(descriptor.fd) announced by LISTEN_FDS is not open")
            }
        }
        return taken
    }

    /// Pairs `count` descriptors, numbered from `firstDescriptor`, with their names. `names` is nil
    /// when `LISTEN_FDNAMES` was absent, and every descriptor is then `unknown`, as systemd does.
    public static func pair(count: Int, names: [String]?) throws(SystemdError) -> ListenFDs {
        guard count >= 0, count <= Int(Int32.max - firstDescriptor) else {
            throw SystemdError(
                function: "sd_listen_fds_with_names", returned: -EINVAL,
                hint: "LISTEN_FDS=\(count) is out of range")
        }
        let resolved = names ?? Array(repeating: unnamed, count: count)
        guard resolved.count == count else {
            throw SystemdError(
                function: "sd_listen_fds_with_names", returned: -EINVAL,
                hint: "LISTEN_FDNAMES holds \(resolved.count) names for \(count) descriptors")
        }
        return ListenFDs(
            descriptors: resolved.enumerated().map { index, name in
                ListenFD(fd: firstDescriptor + Int32(index), name: name)
            })
    }

    /// The first descriptor with this name, for instance `bus` or `control`.
    public func first(named name: String) -> ListenFD? {
        descriptors.first { $0.name == name }
    }

    /// Whether `fd` is a Unix stream socket in listening state, which is what a worker's bus
    /// endpoint must be before it accepts on it (`sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0)`).
    public static func isListeningUnixStreamSocket(_ fd: Int32) -> Bool {
        guard fd >= 0 else { return false }
        return sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0
    }

    /// Copies the NULL-terminated string array libsystemd allocated, then frees every string and the
    /// array itself with `free()`.
    private static func copyAndFree(_ names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
        guard let names else { return [] }
        var copied: [String] = []
        var index = 0
        while let name = names[index] {
            copied.append(String(cString: name))
            free(name)
            index += 1
        }
        free(names)
        return copied
    }
}
