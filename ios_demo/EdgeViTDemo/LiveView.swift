import AVFoundation
import SwiftUI

/// Live mode: the camera feed classified frame by frame; top-3 species and where each frame's time went.
struct LiveView: View {
    let store: ModelStore
    @Binding var format: ModelFormat
    @StateObject private var model = LiveModel()

    var body: some View {
        ZStack(alignment: .bottom) {
            CameraPreview(session: model.camera.session)
                .ignoresSafeArea()
            VStack(alignment: .leading, spacing: 8) {
                FormatPicker(store: store, format: $format)
                if let error = model.error {
                    Text(error).foregroundStyle(.red)
                }
                ForEach(model.top3) { prediction in
                    HStack {
                        Text(prediction.label).font(.headline)
                        Spacer()
                        Text(String(format: "%.1f%%", prediction.probability * 100)).monospacedDigit()
                    }
                }
                Text(model.timing).font(.footnote).monospacedDigit()
            }
            .padding()
            .background(.ultraThinMaterial)
        }
        .task(id: format) { await model.run(store: store, format: format) }
    }
}

@MainActor
final class LiveModel: ObservableObject {
    @Published var top3: [Prediction] = []
    @Published var timing = ""
    @Published var error: String?
    let camera = CameraFeed()

    /// Runs until the view's task is cancelled (a runtime switch or the tab going away): loads the
    /// classifier, hands it to the camera queue and shows each frame's result. On the way out the camera
    /// drops its frame receiver, and with it the last reference to the classifier, so a benchmark started
    /// next measures a process without the live model in it.
    func run(store: ModelStore, format: ModelFormat) async {
        error = nil
        var generation: Int?
        do {
            let artifact = try store.artifact(format)
            let classifier = try await ClassifierFactory.make(artifact, threads: 2)
            let labels = classifier.labels, runtimeName = classifier.runtime.name
            var sink: AsyncStream<Result<FrameResult, Error>>.Continuation?
            let results = AsyncStream<Result<FrameResult, Error>>(bufferingPolicy: .bufferingNewest(1)) { sink = $0 }
            guard let frames = sink else { return }
            // Frames arrive on the camera's serial queue and are classified right there, so the classifier is
            // used from one thread and a frame that comes while one runs is dropped. The closure holds the
            // classifier and the stream's continuation, both Sendable: no main-actor state.
            generation = try await camera.start { pixelBuffer in
                frames.yield(Result { try classifier.classify(pixelBuffer: pixelBuffer) })
            }
            for await outcome in results {  // ends when this task is cancelled
                show(outcome, labels: labels, runtimeName: runtimeName)
            }
        } catch {
            self.error = error.localizedDescription
        }
        if let generation { camera.stop(generation: generation) }
    }

    private func show(_ outcome: Result<FrameResult, Error>, labels: [String], runtimeName: String) {
        switch outcome {
        case .success(let result):
            top3 = result.probabilities.enumerated()
                .sorted { $0.element > $1.element }
                .prefix(3)
                .map { Prediction(label: labels[$0.offset], probability: $0.element) }
            let pre = result.preprocessMs.map { String(format: "preprocess %.1f ms + ", $0) } ?? ""
            timing = "\(runtimeName): \(pre)" + String(format: "inference %.1f ms per frame", result.inferenceMs)
        case .failure(let error):
            self.error = error.localizedDescription
        }
    }
}

/// The camera's preview layer in SwiftUI.
struct CameraPreview: UIViewRepresentable {
    let session: AVCaptureSession

    final class PreviewView: UIView {
        override class var layerClass: AnyClass { AVCaptureVideoPreviewLayer.self }
        var previewLayer: AVCaptureVideoPreviewLayer { layer as! AVCaptureVideoPreviewLayer }
    }

    func makeUIView(context: Context) -> PreviewView {
        let view = PreviewView()
        view.previewLayer.session = session
        view.previewLayer.videoGravity = .resizeAspectFill
        return view
    }

    func updateUIView(_ uiView: PreviewView, context: Context) {}
}
