/// The configuration overlay of a test tree whose broker is a real one's adapter (`broker@ibkr`,
/// `broker@alpaca`) at a fake server: the shipped workers with that broker in place of `broker@paper`,
/// the risk gate sending to it, and the broker's own settings.
public enum RealBrokerTree {
    /// `limits` (a `risk:` block, left open for `broker:`), then `broker: <broker>`, `settings` (the
    /// broker's own YAML blocks, each line ended) and the supervisor's children: `workers` with
    /// `broker@paper` replaced by `broker`, which does `brokerOnCrash` (risk and reconciler halt).
    public static func overlay(limits: String, workers: [String], broker: String, settings: String, brokerOnCrash: String) -> String {
        let children = workers.map { $0 == "broker@paper" ? broker : $0 }
        return limits + "\n  broker: \(broker)\n" + settings
            + "supervisor:\n  children:\n"
            + children.map { name in
                let role = name.split(separator: "@")[0]
                let onCrash = role == "broker" ? brokerOnCrash : (role == "risk" || role == "reconciler" ? "halt" : "none")
                return """
                        - name: \(name)
                          executable: ast-\(role)
                          arguments: []
                          restart: permanent
                          shutdown_timeout_ms: 5000
                          watchdog_ms: 10000
                          on_crash: \(onCrash)

                    """
            }.joined()
    }
}
