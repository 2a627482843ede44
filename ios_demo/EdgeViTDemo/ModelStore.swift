import CryptoKit
import Foundation

/// The two model formats the app can run; each is present only if `edgevit ios-sync` put it in.
enum ModelFormat: String, CaseIterable, Identifiable, Sendable {
    case tflite = "tflite"
    case coreml = "coreml"

    var id: String { rawValue }

    var title: String {
        switch self {
        case .tflite: return "TFLite"
        case .coreml: return "Core ML"
        }
    }
}

enum ModelStoreError: LocalizedError {
    case notSynced(String)
    case missingFormat(ModelFormat, available: [String])
    case unreadable(String, underlying: Error)
    case checksumMismatch(file: String, expected: String, actual: String)
    case goldenMismatch(String)
    case pathOutsideModels(String)

    var errorDescription: String? {
        switch self {
        case .notSynced(let detail):
            return "No synced model (\(detail)). Run `edgevit ios-sync ARTIFACT` on your Mac, then build again."
        case .missingFormat(let format, let available):
            return "\(format.title) was not synced (have: \(available.joined(separator: ", "))). Sync that artifact too."
        case .unreadable(let file, let underlying):
            return "Cannot read \(file): \(underlying.localizedDescription). Run `edgevit ios-sync` again."
        case .checksumMismatch(let file, let expected, let actual):
            return "\(file): sha256 \(actual.prefix(12))... differs from the manifest's \(expected.prefix(12))...; run `edgevit ios-sync` again."
        case .goldenMismatch(let detail):
            return "Golden vectors do not match the model: \(detail). Write them again with `edgevit verify --write-golden`."
        case .pathOutsideModels(let path):
            return "\(path) points outside the Models folder; run `edgevit ios-sync` again."
        }
    }
}

/// One synced artifact: its manifest, gate and model file inside the app bundle.
struct SyncedArtifact: Sendable {
    let format: ModelFormat
    let folder: URL
    let manifest: ArtifactManifest
    let gate: ParityGate

    var modelURL: URL { folder.appendingPathComponent(manifest.file) }
}

/// Everything `edgevit ios-sync` wrote into the app's Models folder, read once at start-up.
struct ModelStore: Sendable {
    static let folderName = "Models"

    let root: URL
    let index: SyncIndex
    let artifacts: [ModelFormat: SyncedArtifact]

    var availableFormats: [ModelFormat] { ModelFormat.allCases.filter { artifacts[$0] != nil } }

    static func load(bundle: Bundle = .main) throws -> ModelStore {
        guard let root = bundle.url(forResource: folderName, withExtension: nil) else {
            throw ModelStoreError.notSynced("no \(folderName) folder in the app bundle")
        }
        let indexURL = root.appendingPathComponent("sync.json")
        guard FileManager.default.fileExists(atPath: indexURL.path) else {
            throw ModelStoreError.notSynced("no \(folderName)/sync.json")
        }
        let index: SyncIndex = try decode(SyncIndex.self, from: indexURL)
        var artifacts: [ModelFormat: SyncedArtifact] = [:]
        for (name, entry) in index.formats {
            guard let format = ModelFormat(rawValue: name) else { continue }
            let folder = try inside(root, entry.folder)
            let manifest: ArtifactManifest = try decode(ArtifactManifest.self, from: try inside(root, entry.manifest))
            let gate: ParityGate = try decode(ParityGate.self, from: try inside(root, entry.gate))
            artifacts[format] = SyncedArtifact(format: format, folder: folder, manifest: manifest, gate: gate)
        }
        if artifacts.isEmpty {
            throw ModelStoreError.notSynced("sync.json lists no tflite or coreml artifact")
        }
        return ModelStore(root: root, index: index, artifacts: artifacts)
    }

    func artifact(_ format: ModelFormat) throws -> SyncedArtifact {
        guard let artifact = artifacts[format] else {
            throw ModelStoreError.missingFormat(format, available: availableFormats.map { $0.title })
        }
        return artifact
    }

    /// The golden vectors, checked against the artifact's manifest (size, classes, labels, preprocessing).
    func goldenVectors(for artifact: SyncedArtifact) throws -> GoldenVectors {
        let indexURL = try ModelStore.inside(root, index.golden)
        let golden = try GoldenVectors.load(indexURL: indexURL)
        try golden.check(against: artifact.manifest)
        return golden
    }

    /// A damaged copy of the model would make every number meaningless: check it first.
    /// A .mlpackage is a folder (its manifest sha256 is null); its identity is the source fingerprint.
    func verifyChecksum(of artifact: SyncedArtifact) throws {
        guard let expected = artifact.manifest.sha256 else { return }
        let data: Data
        do {
            data = try Data(contentsOf: artifact.modelURL, options: .mappedIfSafe)
        } catch {
            throw ModelStoreError.unreadable(artifact.manifest.file, underlying: error)
        }
        let actual = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        if actual != expected {
            throw ModelStoreError.checksumMismatch(file: artifact.manifest.file, expected: expected, actual: actual)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(contentsOf: url))
        } catch {
            throw ModelStoreError.unreadable(url.lastPathComponent, underlying: error)
        }
    }

    /// root/relative, refusing anything that resolves outside the Models folder.
    static func inside(_ root: URL, _ relative: String) throws -> URL {
        let base = root.standardizedFileURL.resolvingSymlinksInPath()
        let url = base.appendingPathComponent(relative).standardizedFileURL.resolvingSymlinksInPath()
        guard !relative.hasPrefix("/"), url.path.hasPrefix(base.path + "/") else {
            throw ModelStoreError.pathOutsideModels(relative)
        }
        return url
    }
}
