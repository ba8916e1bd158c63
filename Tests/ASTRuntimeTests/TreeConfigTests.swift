import ASTProcessKit
import Foundation
import Testing

@testable import ASTRuntime

/// astd reads only the tree's part of the configuration (``TreeConfig``); the domains' sections
/// are the workers' to decode and check (`--check-config`). These pin what each side accepts.
@Suite struct TreeConfigTests {
    @Test func theShippedFilesLoadAsTheTreesPartInEveryEnvironment() throws {
        for environment in ["development", "test", "production"] {
            let tree = try ConfigLoader(directory: ConfigLoaderTests.shippedDirectory, environment: environment, variables: [:])
                .load(TreeConfig.self)
            let whole = try ConfigLoader(directory: ConfigLoaderTests.shippedDirectory, environment: environment, variables: [:])
                .load(ASTConfig.self)
            #expect(tree == whole.tree, "\(environment)")
        }
    }

    @Test func domainSectionsAreLeftToTheWorkersButAnUnknownTopLevelKeyIsStillRefused() throws {
        let overlays = [
            // A domain's problem: the tree's part loads, the whole file does not.
            "ast.local.yaml": "strategy:\n  detectors:\n    - name: no_such_detector\nrisk:\n  limits:\n    no_such_limit: 1\n"
        ]
        try MarketDataConfigTests.withShipped(overlays) { dir in
            #expect(dir.errorText(TreeConfig.self, environment: "test") == nil)
            let whole = try #require(dir.errorText(ASTConfig.self, environment: "test"), "the worker's load accepted it")
            #expect(whole.contains("unknown detector 'no_such_detector'"), "\(whole)")
            #expect(whole.contains("risk.limits.no_such_limit"), "\(whole)")
        }
        try MarketDataConfigTests.withShipped(["ast.local.yaml": "riskk:\n  broker: broker@paper\n"]) { dir in
            let text = try #require(dir.errorText(TreeConfig.self, environment: "test"), "astd accepted a misspelt section")
            #expect(text.contains("unknown key riskk"), "\(text)")
        }
    }

    @Test func theTreesRulesAreCheckedTheSameWayByAstdAndByTheWorkers() throws {
        let overlay = "trading:\n  mode: LIVE\n  live_enabled: false\nruntime_dir: relative/run\n"
        try MarketDataConfigTests.withShipped(["ast.production.yaml": overlay]) { dir in
            let texts = [
                ("astd", dir.errorText(TreeConfig.self, environment: "production")), ("a worker", dir.errorText(environment: "production")),
            ]
            for (who, text) in texts {
                let text = try #require(text, "\(who) accepted it")
                #expect(text.contains("trading.live_enabled must be true when trading.mode is LIVE"), "\(who): \(text)")
                #expect(text.contains("runtime_dir must be an absolute path in production"), "\(who): \(text)")
            }
        }
    }
}
