import AVFoundation
import CoreVideo
import Foundation

/// The back camera as a stream of BGRA pixel buffers on a background queue, late frames dropped.
final class CameraFeed: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    let session = AVCaptureSession()
    private let queue = DispatchQueue(label: "edgevit.camera")
    private var onFrame: ((CVPixelBuffer) -> Void)?
    private var configured = false

    enum CameraError: LocalizedError {
        case denied, unavailable

        var errorDescription: String? {
            switch self {
            case .denied: return "Camera access is off: allow it in Settings > Privacy > Camera."
            case .unavailable: return "No back camera (the simulator has none: use Benchmark mode there)."
            }
        }
    }

    /// Starts the camera (once) and sends every frame to `onFrame` on the camera queue; a later call
    /// only swaps the receiver (the runtime switch).
    func start(onFrame: @escaping (CVPixelBuffer) -> Void) async throws {
        queue.sync { self.onFrame = onFrame }
        if configured {
            queue.async { if !self.session.isRunning { self.session.startRunning() } }
            return
        }
        guard await AVCaptureDevice.requestAccess(for: .video) else { throw CameraError.denied }
        guard let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back),
              let input = try? AVCaptureDeviceInput(device: device) else { throw CameraError.unavailable }
        configured = true
        session.beginConfiguration()
        session.sessionPreset = .hd1280x720
        if session.canAddInput(input) { session.addInput(input) }
        let output = AVCaptureVideoDataOutput()
        output.videoSettings = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA]
        output.alwaysDiscardsLateVideoFrames = true
        output.setSampleBufferDelegate(self, queue: queue)
        if session.canAddOutput(output) { session.addOutput(output) }
        if let connection = output.connection(with: .video) {
            // Frames upright in portrait, as the preview shows them.
            if #available(iOS 17.0, *) {
                if connection.isVideoRotationAngleSupported(90) { connection.videoRotationAngle = 90 }
            } else if connection.isVideoOrientationSupported {
                connection.videoOrientation = .portrait
            }
        }
        session.commitConfiguration()
        queue.async { self.session.startRunning() }
    }

    func stop() {
        queue.async { self.session.stopRunning() }
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        onFrame?(pixelBuffer)
    }
}
