import ASTCore
import Testing

@testable import ASTExecution

// Short names so that the table below reads as a table.
private let PS = OrderState.pendingSubmit, SU = OrderState.submitted, AC = OrderState.accepted
private let PF = OrderState.partiallyFilled, FI = OrderState.filled, CA = OrderState.cancelled
private let RE = OrderState.rejected, EX = OrderState.expired, UN = OrderState.unknown
private let no: OrderState? = nil

/// The column order of `expectedTransitions`; pinned so that the table cannot drift from it.
private let columns: [OrderEvent] = [
    .submitSent, .acknowledged, .accepted, .unacknowledged, .partialFill, .completeFill, .cancelled, .rejected, .expired,
    .resolved(nil), .resolved(.held), .resolved(.working), .resolved(.partiallyFilled), .resolved(.filled),
    .resolved(.cancelled), .resolved(.rejected), .resolved(.expired),
]

/// Every (state, event) pair: the next state, or `no` for illegal.
private let expectedTransitions: [OrderState: [OrderState?]] = [
    //                 submitSent ack accepted unack partial complete cancel reject expire | resolved: nil held work pf  filled canc rej exp
    .pendingSubmit: [SU, SU, AC, UN, PF, FI, CA, RE, EX, no, no, no, no, no, no, no, no],
    .submitted: [no, SU, AC, UN, PF, FI, CA, RE, EX, no, no, no, no, no, no, no, no],
    .accepted: [no, AC, AC, no, PF, FI, CA, no, EX, no, no, no, no, no, no, no, no],
    .partiallyFilled: [no, PF, PF, no, PF, FI, CA, no, EX, no, no, no, no, no, no, no, no],
    .filled: [no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no],
    .cancelled: [no, no, no, no, CA, FI, no, no, no, no, no, no, no, no, no, no, no],
    .rejected: [no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no],
    .expired: [no, no, no, no, EX, FI, no, no, no, no, no, no, no, no, no, no, no],
    .unknown: [no, SU, AC, UN, PF, FI, CA, RE, EX, RE, AC, AC, PF, FI, CA, RE, EX],
]

@Test func transitionTableCoversEveryStateAndEvent() {
    #expect(columns == OrderEvent.allCases)
    #expect(Set(expectedTransitions.keys) == Set(OrderState.allCases))
    for row in expectedTransitions.values { #expect(row.count == columns.count) }
}

@Test(arguments: OrderState.allCases, OrderEvent.allCases)
func transitionMatchesTheTable(state: OrderState, event: OrderEvent) throws {
    let column = try #require(columns.firstIndex(of: event))
    let expected = try #require(expectedTransitions[state])[column]
    #expect(OrderStateMachine.next(state, event) == expected, "\(state) + \(event)")
}

@Test func terminalStatesAcceptOnlyFillsAfterCancelOrExpiry() {
    for state in OrderState.allCases where state.isTerminal {
        let legal = OrderEvent.allCases.filter { OrderStateMachine.next(state, $0) != nil }
        switch state {
        case .cancelled, .expired: #expect(legal == [.partialFill, .completeFill])
        default: #expect(legal.isEmpty, "\(state) accepts \(legal)")
        }
    }
}

@Test func orderIsNeverSubmittedTwice() {
    for state in OrderState.allCases where state != .pendingSubmit {
        #expect(OrderStateMachine.next(state, .submitSent) == nil)
    }
}

@Test func brokerStatusMapsToOrderState() {
    #expect(OrderState(BrokerOrderStatus.held) == .accepted)
    #expect(OrderState(BrokerOrderStatus.working) == .accepted)
    #expect(OrderState(BrokerOrderStatus.partiallyFilled) == .partiallyFilled)
    #expect(OrderState(BrokerOrderStatus.filled) == .filled)
    #expect(OrderState(BrokerOrderStatus.expired) == .expired)
}

@Test func orderStateUsesItsWireNames() throws {
    #expect(try json([OrderState.pendingSubmit, .partiallyFilled, .unknown]) == #"["PendingSubmit","PartiallyFilled","Unknown"]"#)
}
