import Testing
@testable import ASTExecution
@Test func moduleLinks() { _ = ASTExecutionModule.self }
