import ASTReplay
import Foundation
import HTTPTypes
import Hummingbird

#if canImport(Glibc)
    import Glibc
#endif

/// One report directory as `/reports` and `/api/v1/reports` list it: a run report, a daily
/// report or a backtest's output directory.
public struct ReportEntry: Codable, Sendable, Equatable {
    public var name: String
    /// `run`, `daily`, `backtest` or `other`.
    public var kind: String
    public var files: [String]
    public var modified: String

    enum CodingKeys: String, CodingKey { case name, kind, files, modified }
}

/// The reports directory, read-only, and nothing outside it: a name is one path component of
/// letters, digits and `._-` (never `..` or a hidden name), and what it resolves to (symlinks
/// followed) must still lie inside the directory's own real path.
public struct ReportFiles: Sendable {
    public let root: String

    /// The largest file served (a backtest's trades.csv over years stays far below).
    public static let maxFileBytes = 16 << 20

    public init(root: String) { self.root = root }

    /// A report or file name as a single, visible path component.
    public static func validName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 200 && !s.hasPrefix(".")
            && s.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._-".unicodeScalars.contains($0)
            }
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// The real path of `name` (a report directory) or `name/file` inside the root, or nil when
    /// it is not a valid name, does not exist, is not a directory (a file) resp. regular file,
    /// or resolves outside the root (`..`, a symlink out).
    public func resolve(_ name: String, file: String? = nil) -> String? {
        guard Self.validName(name), file.map(Self.validName) ?? true, let realRoot = Self.realPath(root) else { return nil }
        let candidate = realRoot + "/" + name + (file.map { "/" + $0 } ?? "")
        guard let real = Self.realPath(candidate), real.hasPrefix(realRoot + "/") else { return nil }
        var st = stat()
        guard stat(real, &st) == 0 else { return nil }
        let type = st.st_mode & mode_t(S_IFMT)
        return type == mode_t(file == nil ? S_IFDIR : S_IFREG) ? real : nil
    }

    /// Every report directory, newest first, with its files.
    public func list() -> [ReportEntry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var entries: [(Double, ReportEntry)] = []
        for name in names.sorted() {
            guard let dir = resolve(name) else { continue }
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().filter {
                resolve(name, file: $0) != nil
            }
            var st = stat()
            let mtime = stat(dir, &st) == 0 ? Double(st.st_mtim.tv_sec) : 0
            let kind =
                name.hasPrefix("run-") ? "run" : name.hasPrefix("daily-") ? "daily" : files.contains("summary.json") ? "backtest" : "other"
            let modified = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: mtime))
            entries.append((mtime, ReportEntry(name: name, kind: kind, files: files, modified: modified)))
        }
        return entries.sorted { ($0.0, $0.1.name) > ($1.0, $1.1.name) }.map(\.1)
    }

    /// One report's entry, nil when `name` is not a report directory inside the root.
    public func entry(_ name: String) -> ReportEntry? { list().first { $0.name == name && resolve(name) != nil } }

    /// The bytes of `name/file`, nil when it does not resolve inside the root or is too large.
    public func read(_ name: String, file: String) -> Data? {
        guard let path = resolve(name, file: file) else { return nil }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        guard let data = try? handle.read(upToCount: Self.maxFileBytes + 1), data.count <= Self.maxFileBytes else { return nil }
        return data
    }

    /// The Content-Security-Policy of a report's HTML file: the dashboard's, with each inline
    /// `<style>` block of the file allowed by its SHA-256 (a CSP hash source, never `unsafe-inline`),
    /// so that a backtest's self-contained report.html renders styled. Scripts stay refused.
    public static func policy(forHTML data: Data) -> String {
        let text = String(decoding: data, as: UTF8.self)
        var hashes: [String] = []
        var rest = text[...]
        while hashes.count < 16, let open = rest.range(of: "<style>"), let close = rest[open.upperBound...].range(of: "</style>") {
            let css = Data(rest[open.upperBound..<close.lowerBound].utf8)
            let hex = ReplayBundle.sha256Hex(css)
            var digest: [UInt8] = []
            var i = hex.startIndex
            while i < hex.endIndex {
                let j = hex.index(i, offsetBy: 2)
                digest.append(UInt8(hex[i..<j], radix: 16) ?? 0)
                i = j
            }
            hashes.append("'sha256-\(Data(digest).base64EncodedString())'")
            rest = rest[close.upperBound...]
        }
        guard !hashes.isEmpty else { return SecurityHeaders<BasicRequestContext>.policy }
        return SecurityHeaders<BasicRequestContext>.policy.replacingOccurrences(
            of: "style-src 'self';", with: "style-src 'self' \(hashes.joined(separator: " "));")
    }

    /// The content type a report file is served with (never one a browser would run as a page
    /// from another origin: HTML comes under the dashboard's own Content-Security-Policy).
    static func contentType(_ file: String) -> String {
        if file.hasSuffix(".json") { return "application/json; charset=utf-8" }
        if file.hasSuffix(".html") { return "text/html; charset=utf-8" }
        return "text/plain; charset=utf-8"
    }
}

struct ReportsResponse: Codable, Sendable {
    var directory: String
    var reports: [ReportEntry]
}

extension WebServer {
    var reports: ReportFiles { ReportFiles(root: config.reportsDirectory(stateDir: stateDir)) }

    func addReportPages(_ router: Router<BasicRequestContext>) {
        router.get("/reports") { _, _ in Self.html(WebPages.reports(reports.list(), directory: reports.root)) }
        router.get("/reports/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let entry = reports.entry(name) else { return Self.notFound("no report \(name.prefix(100)) in the reports directory") }
            let markdown = entry.files.contains("report.md") ? reports.read(name, file: "report.md") : nil
            let summary = entry.files.contains("summary.json") ? reports.read(name, file: "summary.json") : nil
            return Self.html(
                WebPages.report(entry, text: (markdown ?? summary).map { String(decoding: $0, as: UTF8.self) }))
        }
        router.get("/reports/:name/:file") { _, context in
            let name = context.parameters.get("name") ?? "", file = context.parameters.get("file") ?? ""
            guard let data = reports.read(name, file: file) else {
                return Self.notFound("no file \(file.prefix(100)) in report \(name.prefix(100))")
            }
            var headers: HTTPFields = [.contentType: ReportFiles.contentType(file)]
            if file.hasSuffix(".html") { headers[.contentSecurityPolicy] = ReportFiles.policy(forHTML: data) }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    func addReportAPI(_ api: RouterGroup<BasicRequestContext>) {
        api.get("reports") { _, _ in Self.json(ReportsResponse(directory: reports.root, reports: reports.list())) }
        api.get("reports/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let entry = reports.entry(name) else { return Self.problem("no report \(name.prefix(100))", status: .notFound) }
            return Self.json(entry)
        }
    }

    static func notFound(_ message: String) -> Response {
        var r = html(WebPages.page("Not found", "<p class=\"error\">\(Html.escape(message))</p>"))
        r.status = .notFound
        return r
    }
}

extension WebPages {
    /// The reports directory: run, daily and backtest reports, newest first.
    public static func reports(_ entries: [ReportEntry], directory: String) -> String {
        var body = "<p>Reports in <code>\(Html.escape(directory))</code>: <code>astctl report</code> (run), the 16:40 daily report, "
        body += "and <code>ast backtest --out</code> directories placed here.</p>"
        body += "<table id=\"reports\"><thead><tr><th>report</th><th>kind</th><th>modified</th><th>files</th></tr></thead><tbody>"
        if entries.isEmpty { body += "<tr class=\"empty\"><td colspan=\"4\">no reports yet</td></tr>" }
        for e in entries {
            body += "<tr><td><a href=\"/reports/\(Html.escape(e.name))\">\(Html.escape(e.name))</a></td><td>\(Html.escape(e.kind))</td>"
            body += "<td>\(Html.escape(e.modified))</td><td>"
            body += e.files.map { "<a href=\"/reports/\(Html.escape(e.name))/\(Html.escape($0))\">\(Html.escape($0))</a>" }
                .joined(separator: " ")
            body += "</td></tr>"
        }
        return page("Reports", body + "</tbody></table>")
    }

    /// One report: its files, and its Markdown (or a backtest's summary) as text.
    public static func report(_ e: ReportEntry, text: String?) -> String {
        var body = "<p>\(Html.escape(e.kind)) report, modified \(Html.escape(e.modified)). Files: "
        body += e.files.map { "<a href=\"/reports/\(Html.escape(e.name))/\(Html.escape($0))\">\(Html.escape($0))</a>" }
            .joined(separator: " ")
        body += "</p>"
        if let text { body += "<pre id=\"report-text\">\(Html.escape(text))</pre>" }
        return page(e.name, body)
    }
}
