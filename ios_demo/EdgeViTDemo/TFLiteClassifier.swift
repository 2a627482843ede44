import CoreVideo
import Foundation
import TensorFlowLite

/// The .tflite through TensorFlowLiteSwift (CocoaPods `TensorFlowLiteSwift`, module `TensorFlowLite`), XNNPACK on.
///
/// The model runs through its one signature (`SignatureRunner`), because `SignatureRunner.copy(_:toInputNamed:)`
/// copies the input into the tensor and nothing else, while `Interpreter.copy(_:toInputAt:)` also reads the
/// whole input tensor back. So a timed `predict` does what the host harness times in
/// edgevit/portable/runtimes.py (TFLiteIO.run): one copy into the input tensor, invoke, one copy of the
/// output tensor out. TensorFlowLiteSwift's `Tensor.DataType` has no int8 case, so only float32 tensors
/// are fed: `edgevit ios-sync` refuses other artifacts, and the type is checked once, here at load.
final class TFLiteClassifier: ImageClassifier, @unchecked Sendable {
    let runtime: RuntimeDescription
    let labels: [String]
    private let runner: SignatureRunner
    private let inputName: String
    private let outputName: String
    private let preprocessor: Preprocessor
    private let inputFloats: Int

    init(artifact: SyncedArtifact, threads: Int) throws {
        let manifest = artifact.manifest
        var options = Interpreter.Options()
        options.threadCount = threads
        options.isXNNPackEnabled = true
        let interpreter = try Interpreter(modelPath: artifact.modelURL.path, options: options)
        guard interpreter.signatureKeys.count == 1, let key = interpreter.signatureKeys.first else {
            throw ClassifierError.unexpectedOutput("\(interpreter.signatureKeys.count) signatures in the model, expected 1")
        }
        let runner = try interpreter.signatureRunner(with: key)
        guard runner.inputs.count == 1, runner.outputs.count == 1, let inputName = runner.inputs.first,
              let outputName = runner.outputs.first else {
            throw ClassifierError.unexpectedOutput("\(runner.inputs.count) inputs and \(runner.outputs.count) outputs, expected 1 each")
        }
        let pre = manifest.preprocessing
        // The exported model has a dynamic batch (-1): fix it at 1, the way the app calls it.
        try runner.resizeInput(named: inputName, toShape: Tensor.Shape([1, pre.height, pre.width, 3]))
        try runner.allocateTensors()
        // Read once at load: the tensors' types and sizes do not change between calls.
        let input = try runner.input(named: inputName)
        let output = try runner.output(named: outputName)
        guard input.dataType == .float32, output.dataType == .float32 else {
            throw ClassifierError.unsupportedTensorType("input \(input.dataType), output \(output.dataType) (only float32 is fed)")
        }
        let floats = pre.height * pre.width * 3
        guard input.shape.dimensions.reduce(1, *) == floats else {
            throw ClassifierError.wrongInputSize(expected: input.shape.dimensions.reduce(1, *), got: floats)
        }
        guard output.shape.dimensions.reduce(1, *) == manifest.labels.count else {
            throw ClassifierError.unexpectedOutput("\(output.shape.dimensions) output for \(manifest.labels.count) labels")
        }
        self.runner = runner
        self.inputName = inputName
        self.outputName = outputName
        self.inputFloats = floats
        self.preprocessor = try Preprocessor(spec: pre)
        self.labels = manifest.labels
        // The TensorFlow Lite C library's own version (TfLiteVersion), not the app bundle's.
        self.runtime = RuntimeDescription(
            name: "litert", version: TensorFlowLite.Runtime.version, device: "cpu", threads: threads,
            details: ["api": "TensorFlowLiteSwift SignatureRunner", "xnnpack": "true", "input_dtype": "float32",
                      "signature": key])
    }

    /// The timed call: the floats' bytes are wrapped without a copy, copied once into the input tensor, the
    /// model is invoked, and the output tensor is copied out (`output(named:)`) and read as floats.
    func predict(input: ArraySlice<Float>) throws -> [Float] {
        guard input.count == inputFloats else { throw ClassifierError.wrongInputSize(expected: inputFloats, got: input.count) }
        try input.withUnsafeBufferPointer { floats in
            let bytes = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: floats.baseAddress!),
                             count: floats.count * MemoryLayout<Float>.stride, deallocator: .none)
            try runner.invoke(with: [inputName: bytes])
        }
        let output = try runner.output(named: outputName)
        return output.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func classify(pixelBuffer: CVPixelBuffer) throws -> FrameResult {
        let (input, preprocessMs) = try Statistics.timed { try preprocessor.input(from: pixelBuffer) }
        let (probabilities, inferenceMs) = try Statistics.timed { try predict(input: input[...]) }
        return FrameResult(probabilities: probabilities, preprocessMs: preprocessMs, inferenceMs: inferenceMs)
    }
}
