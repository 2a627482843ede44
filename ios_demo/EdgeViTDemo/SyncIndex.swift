import Foundation

// Models/sync.json and Models/<format>/gate.json, written by `edgevit ios-sync` (edgevit/device/ios.py).

// json: sync
struct SyncIndex: Decodable, Sendable {
    let schemaVersion: Int
    let created: String
    let edgevitVersion: String
    /// "tflite" and/or "coreml" -> where that artifact's files are.
    let formats: [String: SyncedFormat]
    let golden: String
    /// MACs per image counted on the host from the model's config; nil for a model edgevit cannot count.
    let model: ModelCost?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case created = "created"
        case edgevitVersion = "edgevit_version"
        case formats = "formats"
        case golden = "golden"
        case model = "model"
    }
}

// json: sync.formats.*
struct SyncedFormat: Decodable, Sendable {
    let folder: String
    let manifest: String
    let gate: String

    enum CodingKeys: String, CodingKey {
        case folder = "folder"
        case manifest = "manifest"
        case gate = "gate"
    }
}

// json: gate
/// How far the device's probabilities may be from the reference's on the golden vectors, chosen on the
/// host for the artifact's format and quantization (edgevit/device/gates.py). Written back into the record.
struct ParityGate: Codable, Sendable {
    let quantization: String
    let maxAbsError: Double
    /// nil: top-1 agreement is reported but not gated (float formats are judged by maxAbsError).
    @NullEncoded var minAgreement: Double?
    let source: String

    enum CodingKeys: String, CodingKey {
        case quantization = "quantization"
        case maxAbsError = "max_abs_error"
        case minAgreement = "min_agreement"
        case source = "source"
    }
}
