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
        .task(id: format) { await model.start(store: store, format: format) }
        .onDisappear { model.stop() }
    }
}

@MainActor
final class LiveModel: ObservableObject {
    @Published var top3: [Prediction] = []
    @Published var timing = ""
    @Published var error: String?
    let camera = CameraFeed()

    func start(store: ModelStore, format: ModelFormat) async {
        error = nil
        do {
            let artifact = try store.artifact(format)
            let classifier = try await ClassifierFactory.make(artifact, threads: 2)
            // Frames arrive on the camera's serial queue and are classified right there, so the
            // interpreter is used from one thread and a frame that comes while one runs is dropped.
            try await camera.start { [weak self] pixelBuffer in
                let outcome = Result { try classifier.classify(pixelBuffer: pixelBuffer) }
                Task { @MainActor in self?.show(outcome, classifier: classifier) }
            }
        } catch {
            self.error = error.localizedDescription
        }
    }

    func stop() {
        camera.stop()
    }

    private func show(_ outcome: Result<FrameResult, Error>, classifier: ImageClassifier) {
        switch outcome {
        case .success(let result):
            top3 = classifier.topK(result.probabilities, k: 3)
            let pre = result.preprocessMs.map { String(format: "preprocess %.1f ms + ", $0) } ?? ""
            timing = "\(classifier.runtime.name): \(pre)" + String(format: "inference %.1f ms per frame", result.inferenceMs)
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
