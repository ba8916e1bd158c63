import ASTAlpaca
import ASTCore

extension AlpacaClient {
    /// `PATCH /v2/orders/{id}` once (never retried blindly: an unknown outcome is settled by reading
    /// the old order, whose `replaced_by` says whether it was replaced).
    public func replace(id: String, _ replace: AlpacaReplace) async -> AlpacaReplaceOutcome {
        let request: AlpacaRequest
        do {
            request = try AlpacaRequests.replace(id: id, replace)
        } catch {
            return .refused(status: 0, AlpacaAPIError(code: nil, message: error.description))
        }
        switch await send(request) {
        case .answered(let a): return AlpacaReplaceOutcome.read(a)
        case .noAnswer(let why): return .unknown(why)
        }
    }
}
