import ASTCore
import ASTJournal
// What every process shares without knowing any trading domain (the configuration file and its
// tree-wide sections, secrets, systemd, logging) lives in ASTProcessKit, which astd links alone;
// workers, tools and tests see it through ASTRuntime as before.
@_exported import ASTProcessKit
import Foundation
import Logging
import ServiceLifecycle

extension StartupChecks {
    /// ``refusal(_:variables:)`` for the whole file as a worker loaded it.
    public static func refusal(_ config: ASTConfig, variables: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        refusal(config.tree, variables: variables)
    }
}

extension DiskBudgetWatch {
    /// The watch over the journals under a worker's `state_dir`.
    public init(config: ASTConfig, journal: Journal, clock: any WallClock, logger: Logger) {
        self.init(config: config.tree, journal: journal, clock: clock, logger: logger)
    }
}

/// The worker runtime's disk budget check, as a service of its group.
struct DiskBudgetService: Service {
    let watch: DiskBudgetWatch

    func run() async throws {
        await cancelWhenGracefulShutdown { await watch.run() }
    }
}
