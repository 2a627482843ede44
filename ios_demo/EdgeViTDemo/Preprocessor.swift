import CoreImage
import CoreVideo
import Foundation

enum PreprocessingError: LocalizedError {
    case unsupported(String)
    case renderFailed

    var errorDescription: String? {
        switch self {
        case .unsupported(let what): return "The manifest asks for \(what), which this app does not implement."
        case .renderFailed: return "Could not render the camera frame."
        }
    }
}

/// Camera frame -> model input, mirroring edgevit.data.preprocess from the manifest's `preprocessing`
/// block: squash-resize to width x height (no crop), RGB, then (x - mean) / std per channel, NHWC.
///
/// Downscaling a camera frame uses Lanczos (antialiased, like PIL's bilinear/bicubic filters with
/// their widened support), so pixels differ slightly from the Python path. Parity is therefore checked
/// on the golden vectors, which are already preprocessed by edgevit itself.
final class Preprocessor {
    let spec: PreprocessingSpec
    private let context = CIContext(options: [.workingColorSpace: NSNull(), .outputColorSpace: NSNull()])
    private var rgba: [UInt8]

    init(spec: PreprocessingSpec) throws {
        guard spec.layout == "NHWC" else { throw PreprocessingError.unsupported("layout \(spec.layout)") }
        guard spec.color == "RGB" else { throw PreprocessingError.unsupported("colour order \(spec.color)") }
        guard ["bilinear", "bicubic", "nearest"].contains(spec.resize) else {
            throw PreprocessingError.unsupported("resize \(spec.resize)")
        }
        guard spec.mean.count == 3, spec.std.count == 3, !spec.std.contains(0) else {
            throw PreprocessingError.unsupported("mean/std that are not 3 non-zero values")
        }
        self.spec = spec
        self.rgba = [UInt8](repeating: 0, count: spec.width * spec.height * 4)
    }

    /// (H * W * 3) floats, row-major NHWC without the batch dimension.
    func input(from pixelBuffer: CVPixelBuffer) throws -> [Float] {
        let image = CIImage(cvPixelBuffer: pixelBuffer)
        let scaleX = CGFloat(spec.width) / image.extent.width
        let scaleY = CGFloat(spec.height) / image.extent.height
        let resized: CIImage
        if spec.resize == "nearest" {
            resized = image.samplingNearest().transformed(by: CGAffineTransform(scaleX: scaleX, y: scaleY))
        } else {
            guard let lanczos = CIFilter(name: "CILanczosScaleTransform") else { throw PreprocessingError.renderFailed }
            lanczos.setValue(image, forKey: kCIInputImageKey)
            lanczos.setValue(scaleY, forKey: kCIInputScaleKey)
            lanczos.setValue(scaleX / scaleY, forKey: kCIInputAspectRatioKey)
            guard let output = lanczos.outputImage else { throw PreprocessingError.renderFailed }
            resized = output
        }
        let origin = resized.extent.origin
        let placed = resized.transformed(by: CGAffineTransform(translationX: -origin.x, y: -origin.y))
        let bounds = CGRect(x: 0, y: 0, width: spec.width, height: spec.height)
        rgba.withUnsafeMutableBytes { buffer in
            context.render(placed, toBitmap: buffer.baseAddress!, rowBytes: spec.width * 4, bounds: bounds,
                           format: .RGBA8, colorSpace: nil)
        }
        return normalize(rgba: rgba)
    }

    /// RGBA8 pixels -> (x - mean) / std for R, G, B; alpha dropped.
    func normalize(rgba pixels: [UInt8]) -> [Float] {
        let count = spec.width * spec.height
        var out = [Float](repeating: 0, count: count * 3)
        let mean = spec.mean, std = spec.std
        for p in 0..<count {
            for c in 0..<3 {
                out[p * 3 + c] = (Float(pixels[p * 4 + c]) - mean[c]) / std[c]
            }
        }
        return out
    }
}
