/// HTML text escaping for every page AST writes (the dashboard, backtest reports): `&`, `<`, `>`,
/// and both quotes, so a value is safe in element text and in quoted attributes alike.
public enum HTMLText {
    /// `s` with its markup characters replaced by their entities.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
