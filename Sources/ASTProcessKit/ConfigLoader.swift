import FoundationEssentials

/// Loads the layered configuration of an AST process and decodes it into a typed, validated
/// value, or throws one `ConfigError` listing every problem.
///
/// Layers, each overriding the previous key by key (mappings merge, lists are replaced whole):
/// 1. `<directory>/ast.yaml`: the base, required; holds every key with its value;
/// 2. `<directory>/ast.<environment>.yaml`: optional; the environment is the `environment`
///    argument, else `AST_ENV`, else the `environment` key of the base file;
/// 3. `<directory>/ast.local.yaml`: optional, for one machine;
/// 4. `AST_*` environment variables: `AST_BUS__MAX_FRAME_BYTES=2097152` sets `bus.max_frame_bytes`
///    (`__` separates levels, names are lowercased, lists are comma-separated). `AST_ENV` and
///    `AST_CONFIG_DIR` choose what to load and are not keys; nor are `AST_FAULT_*` variables,
///    fault injections that only tests set (each read by the process it concerns).
///
/// An environment chosen by the argument or `AST_ENV` also becomes the value of the
/// `environment` key, when the configuration has one.
public struct ConfigLoader: Sendable {
    /// The directory holding `ast.yaml`, as given (file names in issues are built from it).
    public let directory: String
    /// The environment asked for explicitly, by the argument or `AST_ENV`; nil when the base
    /// file's `environment` key decides.
    public let environment: String?
    /// The process environment the `AST_*` layer is read from.
    public let variables: [String: String]

    /// Variables that choose what to load rather than set a key.
    public static let loaderVariables: Set<String> = ["AST_ENV", "AST_CONFIG_DIR"]
    /// Fault injections for tests (`AST_FAULT_BROKER_RESUBMITS_AFTER_RESTART`): not config keys.
    public static let faultVariablePrefix = "AST_FAULT_"

    /// The base file's name in `directory` (`ast.yaml`; `ast backtest --config FILE` names another).
    public let baseFile: String

    /// Creates a loader for `directory`. `environment` wins over `AST_ENV` in `variables`.
    public init(
        directory: String, environment: String? = nil,
        variables: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.init(directory: directory, baseFile: "ast.yaml", environment: environment, variables: variables)
    }

    /// A loader whose base file in `directory` is `baseFile` instead of `ast.yaml`.
    public init(
        directory: String, baseFile: String, environment: String? = nil,
        variables: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.directory = directory
        self.baseFile = baseFile
        self.variables = variables
        let fromVariables = variables["AST_ENV"].flatMap { $0.isEmpty ? nil : $0 }
        self.environment = environment ?? fromVariables
        self.environmentSource =
            environment != nil
            ? ConfigSource(origin: .other("the environment argument"), line: nil)
            : .variable("AST_ENV")
    }

    /// The loader every process uses: the directory from `AST_CONFIG_DIR` (else `etc`, relative to
    /// the working directory), the environment from `AST_ENV`.
    public static func fromEnvironment(_ variables: [String: String] = ProcessInfo.processInfo.environment) -> ConfigLoader {
        let directory = variables["AST_CONFIG_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "etc"
        return ConfigLoader(directory: directory, variables: variables)
    }

    /// Where an installed machine keeps its configuration (scripts/install, units/ast.service).
    public static let systemDirectory = "/etc/ast"

    /// The loader of the operator's commands (`astctl`, `ast`), which find the configuration by
    /// themselves, first match wins:
    /// 1. `AST_CONFIG_DIR` when set (the environment from `AST_ENV`, else the base file's key);
    /// 2. `./etc` when the working directory is a checkout (it holds `etc/ast.yaml`), as before;
    /// 3. `systemDirectory` (`/etc/ast`) on an installed machine, with the `production`
    ///    environment unless `AST_ENV` names another (as units/ast.service sets it for the tree).
    /// `workingDirectory` and `systemDirectory` are parameters so that tests need no root.
    public static func discover(
        _ variables: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath,
        systemDirectory: String = ConfigLoader.systemDirectory
    ) -> ConfigLoader {
        if let explicit = variables["AST_CONFIG_DIR"], !explicit.isEmpty {
            return ConfigLoader(directory: explicit, variables: variables)
        }
        if FileManager.default.fileExists(atPath: workingDirectory + "/etc/ast.yaml") {
            return ConfigLoader(
                directory: workingDirectory == FileManager.default.currentDirectoryPath ? "etc" : workingDirectory + "/etc",
                variables: variables)
        }
        let chosen = variables["AST_ENV"].flatMap { $0.isEmpty ? nil : $0 }
        return ConfigLoader(directory: systemDirectory, environment: chosen ?? "production", variables: variables)
    }

    /// Who chose `environment`: `AST_ENV` or `the environment argument`.
    private let environmentSource: ConfigSource

    /// The path of a file in `directory`, as shown in issues.
    public func path(of fileName: String) -> String {
        if directory.isEmpty { return fileName }
        return directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
    }

    /// Reads every layer, decodes `C` from the merged tree and validates it.
    public func load<C: ConfigSection>(_ type: C.Type = C.self) throws(ConfigError) -> C {
        let layers = try readLayers()
        let merged = layers.nodes.dropFirst().reduce(layers.nodes[0], ConfigNode.merge)
        let session = ConfigDecodingSession(layerNames: layers.names + ["AST_* variables"])
        let value: C?
        do {
            value = try session.decode(C.self, node: merged, at: .root)
        } catch {
            value = nil
        }
        session.reportUnknownKeys()
        var issues = session.issues
        if let value {
            var validator = ConfigValidator()
            value.validate(&validator)
            for finding in validator.findings
            where !session.alreadyReported(finding.path) && !finding.related.contains(where: session.alreadyReported) {
                let source = merged.deepestNode(at: finding.path).source
                issues.append(
                    ConfigIssue(
                        keyPath: finding.path.description,
                        message: "\(finding.path) \(finding.problem) in \(source)"))
            }
        } else if issues.isEmpty {
            issues.append(ConfigIssue(keyPath: nil, message: "the configuration could not be decoded as \(C.self)"))
        }
        guard issues.isEmpty, let value else { throw ConfigError(issues: issues) }
        return value
    }

    // MARK: Layers

    private struct Layers {
        /// Root mappings, base first; the environment key already settled.
        var nodes: [ConfigNode]
        /// The files read, for "in no layer: ...".
        var names: [String]
    }

    private struct Selection {
        let name: String
        let selector: String
    }

    private func readLayers() throws(ConfigError) -> Layers {
        var issues: [ConfigIssue] = []
        var layers = Layers(nodes: [], names: [])
        var upper: [ConfigNode] = []

        let basePath = path(of: baseFile)
        switch readLayer(basePath) {
        case .missing:
            throw ConfigError(issues: [
                ConfigIssue(
                    keyPath: nil,
                    message:
                        "\(basePath) does not exist; it is the base configuration and gives every key its value "
                        + "(AST_CONFIG_DIR names the directory that holds it)")
            ])
        case .failed(let issue):
            issues.append(issue)
        case .loaded(let node):
            layers.nodes.append(node)
            layers.names.append(basePath)
        }

        var selection: Selection?
        if let environment {
            if Self.isEnvironmentName(environment) {
                selection = Selection(name: environment, selector: environmentSource.description)
            } else {
                issues.append(
                    ConfigIssue(
                        keyPath: nil,
                        message:
                            "\(environmentSource) must be a plain name such as production (lowercase letters, digits, - and _) "
                            + "(got \(ConfigNode.show(text: environment)))"))
            }
        } else if let node = layers.nodes.first?.child(at: ["environment"]),
            case .scalar(let name, _) = node.value, Self.isEnvironmentName(name)
        {
            selection = Selection(name: name, selector: node.source.description)
        }

        var optionalFiles = [path(of: "ast.local.yaml")]
        if let selection { optionalFiles.insert(path(of: "ast.\(selection.name).yaml"), at: 0) }
        for file in optionalFiles {
            switch readLayer(file) {
            case .missing: break
            case .failed(let issue): issues.append(issue)
            case .loaded(let node):
                upper.append(node)
                layers.names.append(file)
            }
        }

        let variableLayer = environmentLayer()
        upper.append(variableLayer.node)
        issues += variableLayer.issues

        if let selection {
            for node in upper {
                if let set = node.child(at: ["environment"]), case .scalar(let name, _) = set.value, name != selection.name {
                    issues.append(
                        ConfigIssue(
                            keyPath: "environment",
                            message:
                                "environment is \(ConfigNode.show(text: name)) in \(set.source) but \(selection.selector) selects "
                                + "\(ConfigNode.show(text: selection.name)) (the environment is chosen by AST_ENV, else by environment in \(basePath))"
                        ))
                }
            }
        }
        guard issues.isEmpty else { throw ConfigError(issues: issues) }

        layers.nodes += upper
        // An explicitly chosen environment is also the value of the `environment` key.
        if let selection, environment != nil, layers.nodes.contains(where: { $0.child(at: ["environment"]) != nil }) {
            let source = environmentSource
            layers.nodes.append(
                ConfigNode(
                    value: .mapping([
                        ConfigNode.Entry(
                            key: "environment", keySource: source,
                            value: ConfigNode(value: .scalar(selection.name, plain: false), source: source))
                    ]), source: source))
        }
        return layers
    }

    private enum LayerOutcome {
        case loaded(ConfigNode)
        case missing
        case failed(ConfigIssue)
    }

    private func readLayer(_ file: String) -> LayerOutcome {
        let bytes: [UInt8]
        switch ConfigFileSystem.readFile(file) {
        case .missing: return .missing
        case .symbolicLink: return .missing  // only asked for with followSymbolicLinks: false
        case .failed(let reason): return .failed(ConfigIssue(keyPath: nil, message: "\(file) \(reason)"))
        case .bytes(let read, _): bytes = read
        }
        switch ConfigYAML.parse(bytes, file: file) {
        case .failure(let syntax):
            let place = syntax.line.map { "\(file) line \($0)" } ?? file
            return .failed(ConfigIssue(keyPath: nil, message: "\(place): \(syntax.problem)"))
        case .success(nil):
            return .loaded(.emptyMapping(.file(file, line: 1)))
        case .success(let node?):
            switch node.value {
            case .mapping: return .loaded(node)
            case .null: return .loaded(.emptyMapping(node.source))
            case .scalar, .sequence:
                return .failed(
                    ConfigIssue(
                        keyPath: nil,
                        message:
                            "\(file) line \(node.source.line ?? 1): the top level must be a mapping of keys (got \(node.shownValue))"))
            }
        }
    }

    /// Builds the `AST_*` layer. Variables are applied in name order, so the result never depends
    /// on the order the process environment happens to list them in.
    private func environmentLayer() -> (node: ConfigNode, issues: [ConfigIssue]) {
        var root = ConfigNode.emptyMapping(ConfigSource(origin: .other("AST_* variables"), line: nil))
        var issues: [ConfigIssue] = []
        for (name, value) in variables.sorted(by: { $0.key < $1.key })
        where name.hasPrefix("AST_") && !Self.loaderVariables.contains(name) && !name.hasPrefix(Self.faultVariablePrefix) {
            let keys = name.dropFirst(4).components(separatedBy: "__").map { $0.lowercased() }
            guard keys.allSatisfy(Self.isKeyName) else {
                issues.append(
                    ConfigIssue(
                        keyPath: nil,
                        message:
                            "\(name) does not name a config key: after AST_, use letters, digits and _ with __ between levels "
                            + "(AST_BUS__MAX_FRAME_BYTES sets bus.max_frame_bytes)"))
                continue
            }
            let source = ConfigSource.variable(name)
            if let conflict = Self.insert(ConfigNode(value: .scalar(value, plain: false), source: source), at: keys[...], into: &root) {
                issues.append(
                    ConfigIssue(
                        keyPath: keys.joined(separator: "."),
                        message:
                            "\(name) and \(conflict) both set \(keys.joined(separator: ".")) or a key around it; keep one of them"))
            }
        }
        return (root, issues)
    }

    /// Puts `value` at `keys` below `node`, creating mappings on the way. Returns the variable
    /// already holding the spot (a value where a section is needed, or the reverse).
    private static func insert(_ value: ConfigNode, at keys: ArraySlice<String>, into node: inout ConfigNode) -> String? {
        guard var entries = node.entries, let key = keys.first else { return node.source.description }
        let index = entries.firstIndex { $0.key == key }
        if keys.count == 1 {
            if let index { return entries[index].value.source.description }
            entries.append(ConfigNode.Entry(key: key, keySource: value.source, value: value))
        } else {
            var child = index.map { entries[$0].value } ?? .emptyMapping(value.source)
            guard child.entries != nil else { return child.source.description }
            if let conflict = insert(value, at: keys.dropFirst(), into: &child) { return conflict }
            if let index {
                entries[index].value = child
            } else {
                entries.append(ConfigNode.Entry(key: key, keySource: value.source, value: child))
            }
        }
        node.value = .mapping(entries)
        return nil
    }

    private static func isKeyName(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
            && key.first != "_" && key.last != "_"
    }

    private static func isEnvironmentName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D }
            && name.first != "-"
    }
}

extension ConfigNode {
    /// The node at `path`, or the deepest node on the way to it (a list from an environment
    /// variable has no element nodes; its variable is the source of every element).
    func deepestNode(at path: ConfigPath) -> ConfigNode {
        var node = self
        for component in path.components {
            switch (component, node.value) {
            case (.key(let key), .mapping(let entries)):
                guard let entry = entries.first(where: { $0.key == key }) else { return node }
                node = entry.value
            case (.index(let index), .sequence(let elements)) where elements.indices.contains(index):
                node = elements[index]
            default:
                return node
            }
        }
        return node
    }
}
