import ASTCore
import ASTWire

/// Asks a broker process for its whole account, page by page (see `BrokerQuery`).
public enum BrokerPages {
    /// Every page of one snapshot, merged; nil when an answer is not a page of that snapshot.
    public static func fetch(
        executionsSince: Timestamp, timeout: Duration,
        _ request: @Sendable (Message, Duration) async throws -> Envelope
    ) async throws -> BrokerAccountState? {
        guard case .brokerState(let first) = try await request(.brokerQuery(BrokerQuery(executionsSince: executionsSince)), timeout).message
        else { return nil }
        guard let page = first.page, page.count > 1 else { return first }
        var pages = [first]
        for n in 1..<page.count {
            let reply = try await request(
                .brokerQuery(BrokerQuery(executionsSince: executionsSince, page: n, snapshot: page.snapshot)), timeout)
            guard case .brokerState(let p) = reply.message, p.page?.snapshot == page.snapshot, p.page?.index == n else { return nil }
            pages.append(p)
        }
        return BrokerAccountState.merging(pages)
    }
}
