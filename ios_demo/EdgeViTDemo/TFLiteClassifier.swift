import CoreVideo
import Foundation
import TensorFlowLite

/// The .tflite through TensorFlowLiteSwift's Interpreter (CocoaPods `TensorFlowLiteSwift`), XNNPACK on.
final class TFLiteClassifier: ImageClassifier {
    let runtime: RuntimeDescription
    let labels: [String]
    private let interpreter: Interpreter
    private let preprocessor: Preprocessor
    private let inputFloats: Int

    init(artifact: SyncedArtifact, threads: Int) throws {
        let manifest = artifact.manifest
        var options = Interpreter.Options()
        options.threadCount = threads
        options.isXNNPackEnabled = true
        let interpreter = try Interpreter(modelPath: artifact.modelURL.path, options: options)
        let pre = manifest.preprocessing
        // The exported model has a dynamic batch (-1): fix it at 1, the way the app calls it.
        try interpreter.resizeInput(at: 0, to: Tensor.Shape([1, pre.height, pre.width, 3]))
        try interpreter.allocateTensors()
        let input = try interpreter.input(at: 0)
        let floats = pre.height * pre.width * 3
        guard input.shape.dimensions.reduce(1, *) == floats else {
            throw ClassifierError.wrongInputSize(expected: input.shape.dimensions.reduce(1, *), got: floats)
        }
        let version = Bundle(for: Interpreter.self).infoDictionary?["CFBundleShortVersionString"] as? String
        self.interpreter = interpreter
        self.inputFloats = floats
        self.preprocessor = try Preprocessor(spec: pre)
        self.labels = manifest.labels
        self.runtime = RuntimeDescription(
            name: "litert", version: version, device: "cpu", threads: threads,
            details: ["api": "TensorFlowLiteSwift Interpreter", "xnnpack": "true", "input_dtype": "\(input.dataType)"])
    }

    func predict(input: ArraySlice<Float>) throws -> [Float] {
        guard input.count == inputFloats else { throw ClassifierError.wrongInputSize(expected: inputFloats, got: input.count) }
        let tensor = try interpreter.input(at: 0)
        try interpreter.copy(try TFLiteClassifier.encode(Array(input), for: tensor), toInputAt: 0)
        try interpreter.invoke()
        let output = try interpreter.output(at: 0)
        let probabilities = try TFLiteClassifier.decode(output)
        guard probabilities.count == labels.count else {
            throw ClassifierError.unexpectedOutput("\(probabilities.count) values for \(labels.count) labels")
        }
        return probabilities
    }

    func classify(pixelBuffer: CVPixelBuffer) throws -> FrameResult {
        let (input, preprocessMs) = try Statistics.timed { try preprocessor.input(from: pixelBuffer) }
        let (probabilities, inferenceMs) = try Statistics.timed { try predict(input: input[...]) }
        return FrameResult(probabilities: probabilities, preprocessMs: preprocessMs, inferenceMs: inferenceMs)
    }

    /// Floats -> the input tensor's bytes (quantized with its scale and zero point for int8/uint8 inputs).
    static func encode(_ values: [Float], for tensor: Tensor) throws -> Data {
        switch tensor.dataType {
        case .float32:
            return values.withUnsafeBufferPointer { Data(buffer: $0) }
        case .uInt8, .int8:
            guard let q = tensor.quantizationParameters else { throw ClassifierError.unsupportedTensorType("unquantized int8") }
            let low: Float = tensor.dataType == .uInt8 ? 0 : -128
            let high: Float = tensor.dataType == .uInt8 ? 255 : 127
            let ints = values.map { min(max(($0 / q.scale + Float(q.zeroPoint)).rounded(), low), high) }
            if tensor.dataType == .uInt8 {
                return Data(ints.map { UInt8($0) })
            }
            return Data(ints.map { UInt8(bitPattern: Int8($0)) })
        default:
            throw ClassifierError.unsupportedTensorType("\(tensor.dataType)")
        }
    }

    /// The output tensor's bytes -> floats (dequantized for int8/uint8 outputs).
    static func decode(_ tensor: Tensor) throws -> [Float] {
        switch tensor.dataType {
        case .float32:
            return tensor.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        case .uInt8:
            guard let q = tensor.quantizationParameters else { throw ClassifierError.unsupportedTensorType("unquantized uint8") }
            return tensor.data.map { (Float($0) - Float(q.zeroPoint)) * q.scale }
        case .int8:
            guard let q = tensor.quantizationParameters else { throw ClassifierError.unsupportedTensorType("unquantized int8") }
            return tensor.data.map { (Float(Int8(bitPattern: $0)) - Float(q.zeroPoint)) * q.scale }
        default:
            throw ClassifierError.unsupportedTensorType("\(tensor.dataType)")
        }
    }
}
