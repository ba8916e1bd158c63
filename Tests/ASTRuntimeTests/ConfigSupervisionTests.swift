import ASTCore
import ASTSupervision
import Foundation
import Testing

@testable import ASTProcessKit
@testable import ASTRuntime

/// The `supervisor:` keys of M10: critical children, per-child budgets, the start-up timeout and
/// the retry of a child given up on.
@Suite("Config: supervision budgets and criticality")
struct ConfigSupervisionTests {
    @Test func theShippedTreeKeepsRiskBrokerAndReconcilerCriticalAndGivesUpOnTheRestAlone() throws {
        let config = try ConfigLoader(directory: ConfigLoaderTests.shippedDirectory, variables: [:]).load(ASTConfig.self)
        let specs = config.supervisor.specs(executableDirectory: "/usr/libexec/ast")
        #expect(specs.filter(\.critical).map(\.id.description) == ["risk@main", "broker@paper", "reconciler@main"])
        #expect(specs.allSatisfy { $0.startTimeout == .seconds(30) && $0.budget == nil })
        let policy = config.supervisor.policy
        #expect(policy.givenUpRetry == .seconds(300) && policy.givenUpRetryMax == .seconds(3600))
        #expect(policy.intensity == 5 && policy.period == .seconds(30))
        _ = try Supervisor(children: specs, policy: policy)
    }

    @Test func withoutTheNewKeysCriticalityFollowsTheRoleAndTheSectionDefaultsApply() throws {
        try ConfigTestDirectory.with { dir in
            // A notifier after the broker, without `critical`, `intensity` or `start_timeout_ms`.
            let text = validBase.replacingOccurrences(
                of: "      on_crash: halt\n",
                with: """
                          on_crash: halt
                        - name: notifier@main
                          executable: ast-notifier
                          arguments: []
                          restart: permanent
                          shutdown_timeout_ms: 5000
                          watchdog_ms: 0
                          on_crash: none

                    """)
            try dir.write("ast.yaml", text)
            let config = try dir.loader().load(ASTConfig.self)
            let specs = config.supervisor.specs(executableDirectory: "/x")
            #expect(specs.map(\.critical) == [true, false])
            #expect(specs.map(\.startTimeout) == [.seconds(30), .seconds(30)])
            #expect(config.supervisor.policy.givenUpRetry == .seconds(300))
        }
    }

    @Test func aChildsOwnBudgetAndStartTimeoutAndARetryOfZeroAreRead() throws {
        try ConfigTestDirectory.with { dir in
            let text =
                validBase
                .replacingOccurrences(
                    of: "  watchdog_grace_ms: 2000\n", with: "  watchdog_grace_ms: 2000\n  given_up_retry_ms: 0\n  start_timeout_ms: 0\n"
                )
                .replacingOccurrences(
                    of: "      on_crash: halt\n",
                    with: "      on_crash: halt\n      intensity: 9\n      period_ms: 60000\n      start_timeout_ms: 5000\n")
            try dir.write("ast.yaml", text)
            let config = try dir.loader().load(ASTConfig.self)
            let spec = try #require(config.supervisor.specs(executableDirectory: "/x").first)
            #expect(spec.budget == RestartBudget(intensity: 9, period: .seconds(60)))
            #expect(spec.startTimeout == .seconds(5))
            #expect(config.supervisor.policy.givenUpRetry == nil, "0: a child given up on stays down")
        }
    }

    @Test func aPositionWatcherCannotBeMadeNonCritical() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write(
                "ast.yaml",
                validBase.replacingOccurrences(of: "      on_crash: halt\n", with: "      on_crash: halt\n      critical: false\n"))
            #expect(
                dir.errorText() == """
                    config: supervisor.children[0].critical must be true for broker (risk, brokers and the reconciler watch positions) \
                    (got false) in \(dir.path)/ast.yaml:32
                    """)
        }
    }

    @Test func aChildsBudgetNeedsBothKeys() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write(
                "ast.yaml", validBase.replacingOccurrences(of: "      on_crash: halt\n", with: "      on_crash: halt\n      intensity: 3\n")
            )
            #expect(
                dir.errorText() == """
                    config: supervisor.children[0].intensity must come with period_ms (a child's own restart budget is both) (got 3) \
                    in \(dir.path)/ast.yaml:32
                    """)
        }
    }

    @Test func aRetryMaximumBelowTheFirstRetryIsRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write(
                "ast.yaml",
                validBase.replacingOccurrences(
                    of: "  watchdog_grace_ms: 2000\n",
                    with: "  watchdog_grace_ms: 2000\n  given_up_retry_ms: 60000\n  given_up_retry_max_ms: 1000\n"))
            #expect(
                dir.errorText()?.contains("supervisor.given_up_retry_max_ms must be at least") == true, "\(dir.errorText() ?? "loaded")")
        }
    }
}
