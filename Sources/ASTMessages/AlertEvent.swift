/// Alert keys unique per event: the sender's journal sequence of the input that caused an
/// alert, never a clock reading (see ``Alert``).
extension Alert {
    /// The event id of the `index`th alert (from 0) among the outputs of the input journaled as
    /// `seq`: `<seq>` for the first, `<seq>.<index + 1>` for any after it.
    public static func eventID(input seq: Int64, index: Int) -> String { index == 0 ? "\(seq)" : "\(seq).\(index + 1)" }
}

extension RiskOutput {
    /// `outputs` (of one input, journaled as `seq`) with every alert keyed to that input
    /// (``Alert/event(_:)``): two transitions at one trading-clock instant get two keys.
    public static func keyed(_ outputs: [RiskOutput], input seq: Int64) -> [RiskOutput] {
        var index = 0
        return outputs.map { output in
            guard case .alert(let alert) = output else { return output }
            defer { index += 1 }
            return .alert(alert.event(Alert.eventID(input: seq, index: index)))
        }
    }
}
