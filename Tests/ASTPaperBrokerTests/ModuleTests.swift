import Testing
@testable import ASTPaperBroker
@Test func moduleLinks() { _ = ASTPaperBrokerModule.self }
