import Foundation

// golden/golden.json, written by `edgevit verify --write-golden` and copied in by `edgevit ios-sync`:
// preprocessed inputs (N, H, W, 3) and the SavedModel's probabilities (N, C) as raw little-endian float32.

// json: golden
struct GoldenIndex: Decodable, Sendable {
    let schemaVersion: Int
    let count: Int
    let inputShape: [Int]
    let numClasses: Int
    let dtype: String
    let byteOrder: String
    let inputsFile: String
    let outputsFile: String
    let trueLabels: [Int]?
    let labelNames: [String]?
    let reference: GoldenReference
    let preprocessing: PreprocessingSpec?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case count = "count"
        case inputShape = "input_shape"
        case numClasses = "num_classes"
        case dtype = "dtype"
        case byteOrder = "byte_order"
        case inputsFile = "inputs_file"
        case outputsFile = "outputs_file"
        case trueLabels = "true_labels"
        case labelNames = "label_names"
        case reference = "reference"
        case preprocessing = "preprocessing"
    }
}

// json: golden.reference
struct GoldenReference: Decodable, Sendable {
    let runtime: String
    let fingerprint: String?

    enum CodingKeys: String, CodingKey {
        case runtime = "runtime"
        case fingerprint = "fingerprint"
    }
}
