import Foundation

// The artifact contract, decoded from the manifest.json that `edgevit export` writes beside every model
// (edgevit/exporters/common.py). Every key the app reads is listed in a CodingKeys enum with its JSON
// name spelled out; tests/test_ios_keys.py checks each one against a manifest edgevit really wrote.
// The `// json:` line above each type says where in which file its keys live.

// json: manifest
struct ArtifactManifest: Decodable, Sendable {
    let name: String
    let format: String
    let quantization: String
    let file: String
    let fileSize: Int
    let sha256: String?
    /// sha256 over every file of a folder model (.mlpackage), null for a single file: the Core ML cache key.
    let packageSha256: String?
    let input: TensorSpec
    let output: OutputSpec
    let preprocessing: PreprocessingSpec
    let labels: [String]
    let source: SourceInfo?

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case format = "format"
        case quantization = "quantization"
        case file = "file"
        case fileSize = "file_size"
        case sha256 = "sha256"
        case packageSha256 = "package_sha256"
        case input = "input"
        case output = "output"
        case preprocessing = "preprocessing"
        case labels = "labels"
        case source = "source"
    }
}

// json: manifest.input
struct TensorSpec: Decodable, Sendable {
    let name: String
    /// null in JSON for a dynamic dimension (the batch of a TFLite model).
    let shape: [Int?]
    let dtype: String

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case shape = "shape"
        case dtype = "dtype"
    }
}

// json: manifest.output
struct OutputSpec: Decodable, Sendable {
    /// TFLite: the probabilities tensor; Core ML: the classifier's label -> probability dictionary.
    let name: String
    let shape: [Int?]
    let activation: String?

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case shape = "shape"
        case activation = "activation"
    }
}

// json: manifest.preprocessing, golden.preprocessing
/// input = (resize(rgb) - mean) / std per channel, NHWC float32: what edgevit.data.preprocess does.
struct PreprocessingSpec: Codable, Equatable, Sendable {
    let height: Int
    let width: Int
    let resize: String
    let color: String
    let layout: String
    let mean: [Float]
    let std: [Float]

    enum CodingKeys: String, CodingKey {
        case height = "height"
        case width = "width"
        case resize = "resize"
        case color = "color"
        case layout = "layout"
        case mean = "mean"
        case std = "std"
    }
}

// json: manifest.source
struct SourceInfo: Decodable, Sendable {
    /// Identifies the SavedModel the artifact was exported from; golden vectors carry the same one.
    let fingerprint: String?

    enum CodingKeys: String, CodingKey {
        case fingerprint = "fingerprint"
    }
}
