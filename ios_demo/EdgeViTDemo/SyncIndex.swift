import Foundation

// Models/sync.json and Models/<format>/gate.json, written by `edgevit ios-sync` (edgevit/ios_sync.py).

// json: sync
struct SyncIndex: Decodable {
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

// json: sync.model
struct ModelCost: Decodable {
    let variant: String?
    let imageSize: Int
    let numClasses: Int
    let macsPerImage: Int?
    let flopsPerImage: Int?

    enum CodingKeys: String, CodingKey {
        case variant = "variant"
        case imageSize = "image_size"
        case numClasses = "num_classes"
        case macsPerImage = "macs_per_image"
        case flopsPerImage = "flops_per_image"
    }
}

// json: sync.formats.*
struct SyncedFormat: Decodable {
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
/// How far the device's probabilities may be from the reference's on the golden vectors
/// (edgevit/device/gates.py, chosen per quantization mode on the host). Written back into the record.
struct ParityGate: Codable {
    let quantization: String
    let maxAbsDiff: Double
    let minAgreement: Double

    enum CodingKeys: String, CodingKey {
        case quantization = "quantization"
        case maxAbsDiff = "max_abs_diff"
        case minAgreement = "min_agreement"
    }
}
