import CoreVideo
import Foundation

enum PreprocessingError: LocalizedError, Sendable {
    case unsupported(String)

    var errorDescription: String? {
        switch self {
        case .unsupported(let what): return "The manifest asks for \(what), which this app does not implement."
        }
    }
}

/// Camera frame -> model input, the way edgevit.data.preprocess does it from the manifest's `preprocessing`
/// block: Pillow's resize with the manifest's filter, squashed to width x height (no crop), RGB, then
/// (x - mean) / std per channel, NHWC.
///
/// The resize is Pillow's own algorithm (src/libImaging/Resample.c for bilinear and bicubic, the affine
/// nearest-neighbour scale for nearest), written out in `PillowResize` because no Apple API reproduces it:
/// Core Image's Lanczos and vImage's scalers use other kernels, so their pixels differ from the ones the
/// model was trained and verified on. tests/unit/ios_demo/test_ios_preprocess.py runs a line-by-line Python
/// copy of `PillowResize` against Pillow itself: equal to the byte along one axis and for nearest; resizing
/// both axes, Pillow 13 sometimes runs the column pass first, and then values differ by at most 1 in 255
/// (bilinear; 3 for bicubic at hard edges).
final class Preprocessor {
    let spec: PreprocessingSpec
    private let filter: PillowResize.Filter

    init(spec: PreprocessingSpec) throws {
        guard spec.layout == "NHWC" else { throw PreprocessingError.unsupported("layout \(spec.layout)") }
        guard spec.color == "RGB" else { throw PreprocessingError.unsupported("colour order \(spec.color)") }
        guard let filter = PillowResize.Filter(rawValue: spec.resize) else {
            throw PreprocessingError.unsupported("resize \(spec.resize)")
        }
        guard spec.mean.count == 3, spec.std.count == 3, !spec.std.contains(0) else {
            throw PreprocessingError.unsupported("mean/std that are not 3 non-zero values")
        }
        self.spec = spec
        self.filter = filter
    }

    /// (H * W * 3) floats, row-major NHWC without the batch dimension, from a 32BGRA camera frame.
    func input(from pixelBuffer: CVPixelBuffer) throws -> [Float] {
        guard CVPixelBufferGetPixelFormatType(pixelBuffer) == kCVPixelFormatType_32BGRA else {
            throw PreprocessingError.unsupported("a camera pixel format other than 32BGRA")
        }
        CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
        guard let base = CVPixelBufferGetBaseAddress(pixelBuffer) else { throw PreprocessingError.unsupported("an empty camera frame") }
        let source = PillowResize.Pixels(
            bytes: UnsafePointer(base.assumingMemoryBound(to: UInt8.self)),
            width: CVPixelBufferGetWidth(pixelBuffer), height: CVPixelBufferGetHeight(pixelBuffer),
            rowBytes: CVPixelBufferGetBytesPerRow(pixelBuffer), pixelBytes: 4, rgbOffsets: (2, 1, 0))
        let rgb = PillowResize.resize(source, width: spec.width, height: spec.height, filter: filter)
        return normalize(rgb: rgb)
    }

    /// RGB8 pixels -> (x - mean) / std for R, G, B (edgevit.data.preprocess.normalize).
    func normalize(rgb pixels: [UInt8]) -> [Float] {
        let mean = spec.mean, std = spec.std
        return pixels.enumerated().map { index, value in (Float(value) - mean[index % 3]) / std[index % 3] }
    }
}

/// Pillow's `Image.resize` for an RGB image, to the byte: two passes (rows, then columns), each with
/// fixed-point weights of 22 fractional bits and a rounding to uint8 in between, as in Resample.c.
enum PillowResize {
    enum Filter: String, Sendable {
        case bilinear, bicubic, nearest

        /// Pillow's filter support and kernel (bicubic with a = -0.5).
        var support: Double { self == .bicubic ? 2 : 1 }

        func weight(_ x: Double) -> Double {
            let t = abs(x)
            switch self {
            case .bilinear, .nearest:
                return t < 1 ? 1 - t : 0
            case .bicubic:
                let a = -0.5
                if t < 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
                if t < 2 { return (((t - 5) * t + 8) * t - 4) * a }
                return 0
            }
        }
    }

    /// Source pixels: `pixelBytes` per pixel, the R, G, B bytes at `rgbOffsets` within each pixel.
    struct Pixels {
        let bytes: UnsafePointer<UInt8>
        let width: Int
        let height: Int
        let rowBytes: Int
        let pixelBytes: Int
        let rgbOffsets: (Int, Int, Int)
    }

    static let precisionBits = 32 - 8 - 2

    /// Per output index: the first input index used and the fixed-point weights (precompute_coeffs and
    /// normalize_coeffs_8bpc).
    static func coefficients(inSize: Int, outSize: Int, filter: Filter) -> [(start: Int, weights: [Int])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let unit = Double(1 << precisionBits)
        return (0..<outSize).map { xx in
            let center = (Double(xx) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var weights = (0..<xmax).map { x in filter.weight((Double(x + xmin) - center + 0.5) / filterScale) }
            let total = weights.reduce(0, +)
            if total != 0 { weights = weights.map { $0 / total } }
            return (xmin, weights.map { $0 < 0 ? Int(-0.5 + $0 * unit) : Int(0.5 + $0 * unit) })
        }
    }

    /// clip8: a fixed-point sum -> uint8.
    static func clip8(_ sum: Int) -> UInt8 {
        if sum >= (1 << precisionBits) << 8 { return 255 }
        if sum <= 0 { return 0 }
        return UInt8(sum >> precisionBits)
    }

    /// RGB8, row-major, width x height.
    static func resize(_ source: Pixels, width: Int, height: Int, filter: Filter) -> [UInt8] {
        let offsets = [source.rgbOffsets.0, source.rgbOffsets.1, source.rgbOffsets.2]
        if filter == .nearest { return nearest(source, width: width, height: height, offsets: offsets) }
        let columns = coefficients(inSize: source.width, outSize: width, filter: filter)
        var rows = coefficients(inSize: source.height, outSize: height, filter: filter)
        // Only the source rows the vertical pass reads are resized horizontally (Pillow's ybox).
        let first = rows[0].start
        let last = rows[height - 1].start + rows[height - 1].weights.count
        rows = rows.map { ($0.start - first, $0.weights) }
        let half = 1 << (precisionBits - 1)
        let needHorizontal = width != source.width, needVertical = height != source.height
        var temporary = [UInt8](repeating: 0, count: width * (last - first) * 3)
        for y in first..<last {
            let row = source.bytes + y * source.rowBytes
            for x in 0..<width {
                for c in 0..<3 {
                    let value: UInt8
                    if needHorizontal {
                        var sum = half
                        for (i, w) in columns[x].weights.enumerated() {
                            sum += Int(row[(columns[x].start + i) * source.pixelBytes + offsets[c]]) * w
                        }
                        value = clip8(sum)
                    } else {
                        value = row[x * source.pixelBytes + offsets[c]]
                    }
                    temporary[((y - first) * width + x) * 3 + c] = value
                }
            }
        }
        guard needVertical else { return temporary }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    var sum = half
                    for (i, w) in rows[y].weights.enumerated() {
                        sum += Int(temporary[((rows[y].start + i) * width + x) * 3 + c]) * w
                    }
                    out[(y * width + x) * 3 + c] = clip8(sum)
                }
            }
        }
        return out
    }

    /// Pillow's nearest resize (ImagingScaleAffine): the source coordinate steps by in/out from half a
    /// step in, and is truncated.
    static func nearest(_ source: Pixels, width: Int, height: Int, offsets: [Int]) -> [UInt8] {
        let stepX = Double(source.width) / Double(width), stepY = Double(source.height) / Double(height)
        var columns: [Int] = []
        var xo = stepX * 0.5
        for _ in 0..<width {
            columns.append(min(Int(xo), source.width - 1))
            xo += stepX
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        var yo = stepY * 0.5
        for y in 0..<height {
            let row = source.bytes + min(Int(yo), source.height - 1) * source.rowBytes
            for x in 0..<width {
                for c in 0..<3 {
                    out[(y * width + x) * 3 + c] = row[columns[x] * source.pixelBytes + offsets[c]]
                }
            }
            yo += stepY
        }
        return out
    }
}
