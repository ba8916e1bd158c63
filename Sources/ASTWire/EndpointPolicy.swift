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

    /// Checks a hello and the peer's kernel-reported uid.
    public func admit(_ hello: Hello, sender: ProcessIdentity, peerUID: UInt32?, ownUID: UInt32) -> Refusal? {
        guard hello.protocolVersion == Envelope.protocolVersion else {
            return Refusal(code: .unsupportedVersion, detail: "hello speaks protocol version \(hello.protocolVersion); \(name) speaks \(Envelope.protocolVersion)")
        }
        guard hello.role == sender.role, hello.instance == sender.instance else {
            return Refusal(code: .helloMismatch, detail: "hello names \(hello.role)@\(hello.instance) but the envelope comes from \(sender)")
        }
        guard let uid = peerUID else {
            return Refusal(code: .uidNotAllowed, detail: "peer credentials unavailable")
        }
        guard uid == ownUID || allowedUIDs.contains(uid) else {
            return Refusal(code: .uidNotAllowed, detail: "uid \(uid) is not allowed on \(name)")
        }
        guard permissions[hello.role] != nil else {
            let allowed = permissions.keys.sorted().map(\.rawValue).joined(separator: ", ")
            return Refusal(code: .roleNotAllowed, detail: "role \(hello.role) may not connect to \(name) (allowed: \(allowed))")
        }
        return nil
    }

    /// Whether `role` may send `type` here.
    public func allows(_ type: MessageType, from role: Role) -> Bool {
        permissions[role]?.contains(type) == true
    }
}
