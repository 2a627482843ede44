import CoreVideo
import Foundation

/// One class and its probability, for the live view's top-3.
struct Prediction: Identifiable, Sendable {
    let label: String
    let probability: Float
    var id: String { label }
}

/// One camera frame's result and where its time went.
struct FrameResult: Sendable {
    let probabilities: [Float]
    /// Resize + normalise from the manifest; nil when Vision does it inside the inference call.
    let preprocessMs: Double?
    let inferenceMs: Double
}

/// What ran, for the record's `runtime` block and the screen.
struct RuntimeDescription: Sendable {
    let name: String
    let version: String?
    let device: String
    let threads: Int?
    let details: [String: String]
}

/// A loaded model behind one small interface, whatever runs it (TFLite or Core ML).
///
/// Sendable so that it can be handed to the one context that uses it: the camera's serial queue (Live) or
/// the benchmark's task. The runtimes' objects inside are not thread-safe, so each conforming class is
/// `@unchecked Sendable` under one rule the app keeps: an instance is used by one context at a time and
/// is never shared between the two (Live releases its instance on stop; the benchmark loads its own).
protocol ImageClassifier: AnyObject, Sendable {
    var runtime: RuntimeDescription { get }
    var labels: [String] { get }

    /// One preprocessed image (H * W * 3 floats, NHWC) -> probabilities in the manifest's label order.
    func predict(input: ArraySlice<Float>) throws -> [Float]

    /// A camera frame -> probabilities (preprocessed as the manifest says, or by Vision for image-input Core ML models).
    func classify(pixelBuffer: CVPixelBuffer) throws -> FrameResult
}

enum ClassifierError: LocalizedError, Sendable {
    case wrongInputSize(expected: Int, got: Int)
    case unexpectedOutput(String)
    case unsupportedTensorType(String)

    var errorDescription: String? {
        switch self {
        case .wrongInputSize(let expected, let got): return "The model takes \(expected) floats, got \(got)."
        case .unexpectedOutput(let detail): return "Unexpected model output: \(detail)."
        case .unsupportedTensorType(let type): return "Tensor type \(type) is not supported."
        }
    }
}

/// Opens the artifact of the chosen format; the switch between TFLite and Core ML lives here only.
enum ClassifierFactory {
    static func make(_ artifact: SyncedArtifact, threads: Int) async throws -> ImageClassifier {
        switch artifact.format {
        case .tflite:
            return try TFLiteClassifier(artifact: artifact, threads: threads)
        case .coreml:
            return try await CoreMLClassifier(artifact: artifact)
        }
    }
}
