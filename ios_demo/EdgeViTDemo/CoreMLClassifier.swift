import CoreML
import CoreVideo
import Foundation
import Vision

/// The .mlpackage through Core ML. The package is compiled on the device (MLModel.compileModel), so the
/// app needs no generated model class and takes whatever `edgevit ios-sync` put in.
///
/// Camera frames go through Vision (VNCoreMLRequest, scale-fill like the manifest's squash resize) when
/// the model takes an image input; edgevit's exporter writes a float tensor input (already normalised,
/// like the golden vectors), and then frames are preprocessed from the manifest and fed as an
/// MLMultiArray. Golden vectors always take the tensor path.
final class CoreMLClassifier: ImageClassifier, @unchecked Sendable {
    let runtime: RuntimeDescription
    let labels: [String]
    private let model: MLModel
    private let visionModel: VNCoreMLModel?
    private let preprocessor: Preprocessor
    private let inputName: String
    private let outputName: String
    private let shape: [NSNumber]

    init(artifact: SyncedArtifact) async throws {
        let manifest = artifact.manifest
        let (compiledURL, cached) = try await CoreMLClassifier.compiled(artifact)
        let configuration = MLModelConfiguration()
        configuration.computeUnits = .all
        let model = try MLModel(contentsOf: compiledURL, configuration: configuration)
        let pre = manifest.preprocessing
        let inputs = model.modelDescription.inputDescriptionsByName.values
        let takesImage = inputs.contains { (description: MLFeatureDescription) in description.type == .image }
        self.model = model
        self.visionModel = try takesImage ? VNCoreMLModel(for: model) : nil
        self.labels = manifest.labels
        self.inputName = manifest.input.name
        self.outputName = manifest.output.name
        self.shape = [1, pre.height, pre.width, 3].map { NSNumber(value: $0) }
        self.preprocessor = try Preprocessor(spec: pre)
        self.runtime = RuntimeDescription(
            name: "coreml", version: nil, device: "all", threads: nil,
            details: ["compute_units": "all", "camera_path": takesImage ? "vision" : "mlmultiarray",
                      "compiled": cached ? "cached" : "on load"])
    }

    /// The compiled .mlmodelc, kept in Caches under the package's sha256 (the manifest's `package_sha256`,
    /// over every file of the .mlpackage) so later launches skip compiling and a re-export, whatever its
    /// size, is compiled again. Without that hash (an older export) nothing is cached.
    private static func compiled(_ artifact: SyncedArtifact) async throws -> (URL, Bool) {
        guard let identity = artifact.manifest.packageSha256 else {
            return (try await MLModel.compileModel(at: artifact.modelURL), false)
        }
        let caches = try FileManager.default.url(for: .cachesDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let target = caches.appendingPathComponent("coreml-\(identity).mlmodelc")
        if FileManager.default.fileExists(atPath: target.path) {
            return (target, true)
        }
        let temporary = try await MLModel.compileModel(at: artifact.modelURL)
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.moveItem(at: temporary, to: target)
        return (target, false)
    }

    func predict(input: ArraySlice<Float>) throws -> [Float] {
        let expected = shape.reduce(1) { $0 * $1.intValue }
        guard input.count == expected else { throw ClassifierError.wrongInputSize(expected: expected, got: input.count) }
        let array = try MLMultiArray(shape: shape, dataType: .float32)
        // A new MLMultiArray is contiguous in C order, the NHWC order of the input.
        let pointer = array.dataPointer.bindMemory(to: Float.self, capacity: expected)
        input.withUnsafeBufferPointer { source in
            pointer.update(from: source.baseAddress!, count: expected)
        }
        let features = try MLDictionaryFeatureProvider(dictionary: [inputName: MLFeatureValue(multiArray: array)])
        let result = try model.prediction(from: features)
        guard let byLabel = result.featureValue(for: outputName)?.dictionaryValue as? [String: NSNumber] else {
            throw ClassifierError.unexpectedOutput("no label -> probability dictionary named \(outputName)")
        }
        return try inLabelOrder(byLabel.mapValues { $0.floatValue })
    }

    func classify(pixelBuffer: CVPixelBuffer) throws -> FrameResult {
        guard let visionModel else {
            let (input, preprocessMs) = try Statistics.timed { try preprocessor.input(from: pixelBuffer) }
            let (probabilities, inferenceMs) = try Statistics.timed { try predict(input: input[...]) }
            return FrameResult(probabilities: probabilities, preprocessMs: preprocessMs, inferenceMs: inferenceMs)
        }
        let request = VNCoreMLRequest(model: visionModel)
        request.imageCropAndScaleOption = .scaleFill
        let handler = VNImageRequestHandler(cvPixelBuffer: pixelBuffer, options: [:])
        let (_, inferenceMs) = try Statistics.timed { try handler.perform([request]) }
        guard let observations = request.results as? [VNClassificationObservation] else {
            throw ClassifierError.unexpectedOutput("Vision returned no classifications")
        }
        var byLabel: [String: Float] = [:]
        for observation in observations {
            byLabel[observation.identifier] = observation.confidence
        }
        return FrameResult(probabilities: try inLabelOrder(byLabel), preprocessMs: nil, inferenceMs: inferenceMs)
    }

    private func inLabelOrder(_ byLabel: [String: Float]) throws -> [Float] {
        try labels.map { label in
            guard let value = byLabel[label] else { throw ClassifierError.unexpectedOutput("no probability for \(label)") }
            return value
        }
    }
}
