import AVFoundation
import CoreVideo
import Foundation

/// The back camera as a stream of BGRA pixel buffers on a background queue, late frames dropped.
///
/// `@unchecked Sendable` under one rule: every mutable property (`onFrame`, `configured`, `generation`) and
/// every session change is read and written on `queue` only, configuration included, so the main actor
/// and the capture callbacks never race on them.
final class CameraFeed: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate, @unchecked Sendable {
    let session = AVCaptureSession()
    private let queue = DispatchQueue(label: "edgevit.camera")
    private var onFrame: (@Sendable (CVPixelBuffer) -> Void)?
    private var configured = false
    private var generation = 0

    enum CameraError: LocalizedError, Sendable {
        case denied, unavailable

        var errorDescription: String? {
            switch self {
            case .denied: return "Camera access is off: allow it in Settings > Privacy > Camera."
            case .unavailable: return "No back camera (the simulator has none: use Benchmark mode there)."
            }
        }
    }

    /// Starts the camera (configured once) and sends every frame to `onFrame` on the camera queue; a later
    /// call swaps the receiver (the runtime switch). Returns the receiver's generation, for `stop`.
    func start(onFrame: @escaping @Sendable (CVPixelBuffer) -> Void) async throws -> Int {
        guard await AVCaptureDevice.requestAccess(for: .video) else { throw CameraError.denied }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    if !self.configured {
                        try self.configure()
                        self.configured = true
                    }
                    self.generation += 1
                    self.onFrame = onFrame
                    if !self.session.isRunning { self.session.startRunning() }
                    continuation.resume(returning: self.generation)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Stops the camera and drops the receiver (and the classifier it holds), unless a later `start` has
    /// already replaced it.
    func stop(generation: Int) {
        queue.async {
            guard generation == self.generation else { return }
            self.onFrame = nil
            self.session.stopRunning()
        }
    }

    /// Runs on `queue`.
    private func configure() throws {
        guard let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back),
              let input = try? AVCaptureDeviceInput(device: device) else { throw CameraError.unavailable }
        session.beginConfiguration()
        defer { session.commitConfiguration() }
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
    }

    /// Called on `queue` (the delegate queue set above).
    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        onFrame?(pixelBuffer)
    }
}
