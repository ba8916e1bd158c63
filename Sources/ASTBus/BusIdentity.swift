import ASTCore
import ASTJournal
import ASTWire
import Logging

/// How a worker sets up kernel-checked identity at start (see README, "Identity on the bus").
public enum BusIdentity {
    /// Closes this process to same-uid inspection, takes astd's peer table, and says how the
    /// endpoint checks peers. Without a table (a worker started by hand) peers are admitted by
    /// uid and role only, with a warning; with `live` that is refused.
    public static func check(identity: ProcessIdentity, live: Bool, logger: Logger) throws -> PeerIdentityCheck {
        if let problem = ProcessHardening.disableDumping() { throw PeerTableError(problem) }
        return try check(identity: identity, table: try PeerTable.inherited(), live: live, logger: logger)
    }

    /// The check for `table` (nil: started without astd); refused in LIVE without a table.
    public static func check(identity: ProcessIdentity, table: PeerTable?, live: Bool, logger: Logger) throws -> PeerIdentityCheck {
        guard let table else {
            if live {
                throw PeerTableError(
                    "\(identity) has no peer table from astd (\(PeerTableLayout.descriptorVariable)): "
                        + "with trading.mode LIVE a worker runs only under astd")
            }
            logger.warning("no peer table from astd: bus peers are admitted by uid and role only (development; refused in LIVE)")
            return .uidOnly
        }
        logger.info(
            "peer table from astd",
            metadata: [
                "identities": "\(table.identities.map(\.description).joined(separator: ","))",
                "unlisted": "\(table.allowsUnlisted ? "admitted by uid (development)" : "refused")",
            ])
        return .spawned(table)
    }

    /// The alarm for identity and forgery refusals: towards the notifier when the tree has one
    /// (and this is not the notifier itself), else log and journal only.
    public static func alarm(
        identity: ProcessIdentity, notifierConfigured: Bool, socketPath: String, settings: BusSettings,
        journal: Journal, clock: any WallClock, logger: Logger
    ) throws -> SecurityAlarm {
        let notifier = ProcessIdentity(role: .notifier)
        guard notifierConfigured, identity.role != .notifier else { return SecurityAlarm(client: nil, clock: clock, logger: logger) }
        // A target name of its own, so that its outbox ids never collide with the shell's own
        // client towards the notifier.
        let client = try BusClient(
            identity: identity, target: "\(notifier)-security", path: socketPath, expectedRole: .notifier,
            settings: settings, journal: journal, clock: clock, logger: logger)
        return SecurityAlarm(client: client, clock: clock, logger: logger)
    }
}
