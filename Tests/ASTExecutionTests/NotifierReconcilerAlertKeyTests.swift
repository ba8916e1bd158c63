import ASTCore
import ASTExecution
import ASTMessages
import Testing

/// The reconciler's alert keys (M16): its input's journal sequence, never a clock reading.
@Suite struct NotifierReconcilerAlertKeyTests {
    /// Several alerts from one input are told apart by their place among its outputs.
    @Test func severalAlertsOfOneInputGetDifferentKeys() {
        let a = Alert(priority: .p0, key: "reconciliation-mismatch", title: "t", text: "x", at: Timestamp(nanoseconds: 5))
        let outputs = ReconcilerOutput.keyed([.alert(a), .result(.clean), .alert(a)], input: 7)
        let keys = outputs.compactMap { if case .alert(let a) = $0 { a.key } else { nil } }
        #expect(keys == ["reconciliation-mismatch#7", "reconciliation-mismatch#7.2"])
    }
}
