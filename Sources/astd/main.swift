// astd: the supervisor of the AST tree. Supervision (child specs, restart policy, sockets
// handed to children, notify and watchdog manager) is milestone M2; until then astd checks
// the configuration every process will load and says how to run the workers.
import ASTRuntime
import Foundation

do {
    let config = try ConfigLoader.fromEnvironment().load(ASTConfig.self)
    print("astd: configuration valid (environment \(config.environment.rawValue), runtime \(config.runtimeDir), state \(config.stateDir))")
    print("astd: supervision is not available in this build (milestone M2); run workers by hand or with scripts/demo")
    exit(ProcessExitCode.failure.rawValue)
} catch {
    FileHandle.standardError.write(Data("astd: \(error)\n".utf8))
    exit(ProcessExitCode.config.rawValue)
}
