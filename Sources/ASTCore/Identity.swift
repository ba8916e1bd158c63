/// The role a process plays in the tree (`risk`, `broker`, `supervisor` ...).
///
/// A string-backed value rather than a closed enum so that test peers and later roles
/// can exist without changing the wire format; ``Role/known`` lists the production roles.
public struct Role: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }

    public static let supervisor: Role = "supervisor"
    public static let control: Role = "control"
    public static let marketdata: Role = "marketdata"
    public static let strategy: Role = "strategy"
    public static let risk: Role = "risk"
    public static let broker: Role = "broker"
    public static let reconciler: Role = "reconciler"
    public static let notifier: Role = "notifier"

    /// The roles of the production tree, in start order.
    public static let known: [Role] = [.supervisor, .control, .marketdata, .strategy, .risk, .broker, .reconciler, .notifier]
}

/// One running instance of a role: `broker@paper`, `risk@main`.
public struct ProcessIdentity: Hashable, Codable, Sendable, CustomStringConvertible {
    public var role: Role
    public var instance: String

    public init(role: Role, instance: String = "main") {
        self.role = role
        self.instance = instance
    }

    /// Parses `role` or `role@instance`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard let r = parts.first, !r.isEmpty, ProcessIdentity.isName(String(r)) else { return nil }
        let inst = parts.count == 2 ? String(parts[1]) : "main"
        guard !inst.isEmpty, ProcessIdentity.isName(inst) else { return nil }
        self.init(role: Role(String(r)), instance: inst)
    }

    /// `role@instance`, the name used in journals, logs and `astctl`.
    public var description: String { "\(role.rawValue)@\(instance)" }

    /// Names are short lowercase identifiers: letters, digits, `-` and `_`.
    public static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64
            && s.utf8.allSatisfy { c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
            }
    }
}
