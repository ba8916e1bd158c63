import ASTMessages

extension ReconcilerOutput {
    /// `outputs` (of one input, journaled as `seq`) with every alert keyed to that input
    /// (``Alert/event(_:)``), so that two mismatches at one trading-clock instant get two keys.
    public static func keyed(_ outputs: [ReconcilerOutput], input seq: Int64) -> [ReconcilerOutput] {
        var index = 0
        return outputs.map { output in
            guard case .alert(let alert) = output else { return output }
            defer { index += 1 }
            return .alert(alert.event(Alert.eventID(input: seq, index: index)))
        }
    }
}
