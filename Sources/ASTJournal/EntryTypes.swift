import ASTCore

/// The journal entry type names of every AST process, declared once: the shells write them and
/// replay, the reports, the timeline and `astctl drill` read them. A shell that writes a new type
/// declares it here. Bus messages journaled by ASTBus carry their `MessageType` raw value
/// (`execution.report`, `portfolio.snapshot` ...) and are not repeated here.
public enum EntryTypes {
    /// Written by every worker (ASTRuntime's start-up) right after it opens its journal, before its
    /// core is restored: everything after it is a new run of the process. Replay treats an input whose
    /// outputs are missing before this marker as a crash between input and output, not a divergence.
    public static let processStarted = "process.started"

    /// Written by ASTBus for every process.
    public enum Bus {
        /// A bus client's outbox mark (kind `state`, peer: the client's target; body
        /// `{"counter":N,"from":S}`): every must-not-lose message to the target sent before entry
        /// `S` was acknowledged, and `N` is the highest outbox counter used. A start reads the
        /// outbox from the newest mark's `S` instead of from entry 1.
        public static let outboxMark = "bus.outbox_mark"
    }

    /// ast-risk.
    public enum Risk {
        /// Every input, with the `now` the gate handled it at (written before it is handled).
        public static let input = "risk.input"
        public static let decision = "risk.decision"
        public static let transition = "safe_mode.transition"
        /// The Safe Mode record the gate started from on the installation's first start.
        public static let initial = "safe_mode.initial"
        public static let started = "risk.started"
        public static let stopped = "risk.stopped"
        public static let cancel = "risk.cancel"
        public static let command = "risk.command"
        public static let dryRun = "risk.dry_run"
    }

    /// ast-reconciler.
    public enum Reconciler {
        /// Every input with the time it was handled at, written before the core sees it.
        public static let input = "reconciler.input"
        /// A reconciliation run's outcome.
        public static let summary = "reconciliation.summary"
        public static let anomaly = "reconciler.anomaly"
    }

    /// ast-broker with the paper exchange.
    public enum Paper {
        /// Every input to the exchange with the `now` it was handled at (write-ahead, durable).
        public static let input = "paper.input"
        public static let restored = "paper.restored"
        /// An input refused by validation after the bus had journaled its message (bounded).
        public static let refused = "paper.refused"
        /// FAULT INJECTION (tests only): a bracket re-submitted past the duplicate check.
        public static let faultResubmit = "paper.fault_resubmit"
    }

    /// ast-strategy.
    public enum Strategy {
        public static let schedule = "strategy.schedule"
        public static let scan = "strategy.scan"
        public static let decision = "strategy.decision"
        public static let cancel = "strategy.cancel"
        /// The 14:30 safe-reducing plan (body: ASTRisk's `ReductionPlan`).
        public static let reduction = "strategy.reduction"
    }

    /// ast-marketdata.
    public enum MarketData {
        /// The replay reached this market time (body: ``Progress``); a restart resumes after it.
        public static let progress = "marketdata.replay"
        /// The replay is about to play this schedule point (body: ``Progress``), written before
        /// anything of it is published: the input whose outputs are the point's messages and its
        /// `marketdata.replay` entry. A start marker between the two is a crash between them.
        public static let beat = "marketdata.beat"
        public static let finished = "marketdata.replay_finished"
        public static let installed = "marketdata.installed"

        /// The body of `marketdata.replay`: where the replay stands, as ast-marketdata writes it
        /// and the report reads it.
        public struct Progress: Codable, Sendable, Equatable {
            public var time: Timestamp
            public var session: String
            /// The session's place among the sessions played (1-based) and their number.
            public var index: Int
            public var of: Int
            /// The schedule point played (`open`, `close` ...).
            public var what: String

            public init(time: Timestamp, session: String, index: Int, of: Int, what: String) {
                self.time = time
                self.session = session
                self.index = index
                self.of = of
                self.what = what
            }
        }
    }

    /// ast-notifier.
    public enum Notifier {
        public static let initial = "notifier.initial"
        public static let sent = "notifier.sent"
        public static let failed = "notifier.failed"
        public static let delivered = "notifier.delivered"
        public static let started = "notifier.started"
        public static let stopped = "notifier.stopped"
    }

    /// The markers after which a process's entries belong to a new run: the shared one and the
    /// older per-process ones (risk, notifier), so journals written before the shared one replay too.
    public static let startMarkers: Set<String> = [processStarted, Risk.started, Notifier.started]
}
