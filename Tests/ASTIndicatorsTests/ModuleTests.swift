import Testing
@testable import ASTIndicators
@Test func moduleLinks() { _ = ASTIndicatorsModule.self }
