import ASTCore

/// Who may talk to one listening endpoint: which peer uids, which roles, and which message
/// types each role may send. The connection protocol's own messages (hello, ack, ping ...)
/// are handled by the connection state machine and never listed here.
public struct EndpointPolicy: Sendable, Equatable {
    /// The endpoint's name, for logs (`risk@main`).
    public var name: String
    /// Uids allowed to connect; the server's own uid is always allowed.
    public var allowedUIDs: Set<UInt32>
    /// Role -> the message types it may send here. A role not listed may not connect.
    public var permissions: [Role: Set<MessageType>]

    public init(name: String, allowedUIDs: Set<UInt32>, permissions: [Role: Set<MessageType>]) {
        self.name = name
        self.allowedUIDs = allowedUIDs
        self.permissions = permissions
    }

    /// Checks a hello against the peer's kernel-reported uid and pid (`SO_PEERCRED`): the uid
    /// must be allowed, the role permitted here, and, when astd's peer table is present, the
    /// claimed identity must be one astd runs under exactly that pid. Only the operator's
    /// `control` role (astctl, never spawned) is admitted by uid alone. The hello's own pid is
    /// never trusted.
    public func admit(
        _ hello: Hello, sender: ProcessIdentity, peerUID: UInt32?, peerPID: Int32?, ownUID: UInt32,
        identity: PeerIdentityCheck
    ) -> Refusal? {
        if let refusal = admitUID(hello, sender: sender, peerUID: peerUID, ownUID: ownUID) { return refusal }
        // Identity before role: a process passing for another is refused as such (and alerted)
        // whatever endpoint it tried.
        if let refusal = checkIdentity(sender, peerPID: peerPID, identity: identity) { return refusal }
        return admitRole(hello.role)
    }

    func checkIdentity(_ sender: ProcessIdentity, peerPID: Int32?, identity: PeerIdentityCheck) -> Refusal? {
        guard case .spawned(let table) = identity, sender.role != .control else { return nil }
        guard let pid = peerPID, pid > 0 else {
            return Refusal(code: .identityNotSpawned, detail: "the kernel reported no pid for a peer claiming \(sender) on \(name)")
        }
        switch table.spawnedPID(of: sender) {
        case .pid(let spawned) where spawned == pid:
            return nil
        case .pid(let spawned):
            return Refusal(code: .pidMismatch, detail: "pid \(pid) claimed \(sender) on \(name), which astd runs as pid \(spawned)")
        case .notRunning:
            return Refusal(code: .identityNotSpawned, detail: "pid \(pid) claimed \(sender) on \(name), which is not running now")
        case .notListed:
            if table.allowsUnlisted { return nil }
            return Refusal(code: .identityNotSpawned, detail: "pid \(pid) claimed \(sender) on \(name), which astd does not run")
        }
    }

    /// Checks a hello and the peer's kernel-reported uid (no identity check).
    public func admit(_ hello: Hello, sender: ProcessIdentity, peerUID: UInt32?, ownUID: UInt32) -> Refusal? {
        admitUID(hello, sender: sender, peerUID: peerUID, ownUID: ownUID) ?? admitRole(hello.role)
    }

    func admitUID(_ hello: Hello, sender: ProcessIdentity, peerUID: UInt32?, ownUID: UInt32) -> Refusal? {
        guard hello.protocolVersion == Envelope.protocolVersion else {
            return Refusal(
                code: .unsupportedVersion,
                detail: "hello speaks protocol version \(hello.protocolVersion); \(name) speaks \(Envelope.protocolVersion)")
        }
        guard hello.role == sender.role, hello.instance == sender.instance else {
            return Refusal(
                code: .helloMismatch, detail: "hello names \(hello.role)@\(hello.instance) but the envelope comes from \(sender)")
        }
        guard let uid = peerUID else {
            return Refusal(code: .uidNotAllowed, detail: "peer credentials unavailable")
        }
        guard uid == ownUID || allowedUIDs.contains(uid) else {
            return Refusal(code: .uidNotAllowed, detail: "uid \(uid) is not allowed on \(name)")
        }
        return nil
    }

    func admitRole(_ role: Role) -> Refusal? {
        guard permissions[role] != nil else {
            let allowed = permissions.keys.sorted().map(\.rawValue).joined(separator: ", ")
            return Refusal(code: .roleNotAllowed, detail: "role \(role) may not connect to \(name) (allowed: \(allowed))")
        }
        return nil
    }

    /// Whether `role` may send `type` here.
    public func allows(_ type: MessageType, from role: Role) -> Bool {
        permissions[role]?.contains(type) == true
    }
}

/// What astd's peer table says about one identity.
public enum SpawnedPID: Sendable, Equatable {
    /// astd runs the identity as this pid now.
    case pid(Int32)
    /// Listed, but not running at the moment (between a crash and its restart).
    case notRunning
    /// astd does not run this identity at all.
    case notListed
}

/// Who astd spawned as what: its peer table, as a bus endpoint consults it at hello time.
public protocol SpawnedPeers: Sendable {
    /// The pid astd runs `identity` as now.
    func spawnedPID(of identity: ProcessIdentity) -> SpawnedPID
    /// Whether an identity the table does not list is admitted by uid alone (development trees).
    var allowsUnlisted: Bool { get }
}

/// How an endpoint checks who a peer is, beyond its uid.
public enum PeerIdentityCheck: Sendable {
    /// No peer table (a worker started by hand): uid and role only. Refused at start in LIVE.
    case uidOnly
    /// The claimed identity must be running under the peer's kernel pid (``EndpointPolicy/admit(_:sender:peerUID:peerPID:ownUID:identity:)``).
    case spawned(any SpawnedPeers)
}
