import Foundation

/// Golden vectors in memory: N preprocessed inputs (H x W x 3 floats each) and the reference probabilities.
struct GoldenVectors: Sendable {
    let index: GoldenIndex
    let inputs: [Float]  // N * H * W * 3, NHWC
    let reference: [Float]  // N * C

    var count: Int { index.count }
    var numClasses: Int { index.numClasses }
    var imageFloats: Int { index.inputShape.dropFirst().reduce(1, *) }

    func input(_ i: Int) -> ArraySlice<Float> {
        inputs[(i * imageFloats)..<((i + 1) * imageFloats)]
    }

    func referenceProbabilities(_ i: Int) -> ArraySlice<Float> {
        reference[(i * numClasses)..<((i + 1) * numClasses)]
    }

    static func load(indexURL: URL) throws -> GoldenVectors {
        let index = try ModelStore.decode(GoldenIndex.self, from: indexURL)
        guard index.schemaVersion == 1, index.dtype == "float32", index.byteOrder == "little" else {
            throw ModelStoreError.goldenMismatch("schema \(index.schemaVersion), \(index.dtype), \(index.byteOrder); expected 1, float32, little")
        }
        guard index.inputShape.count == 4, index.inputShape[0] == index.count, index.inputShape[3] == 3 else {
            throw ModelStoreError.goldenMismatch("input_shape \(index.inputShape) is not [count, H, W, 3]")
        }
        let folder = indexURL.deletingLastPathComponent()
        let inputs = try readFloats(try ModelStore.inside(folder, index.inputsFile), count: index.inputShape.reduce(1, *))
        let reference = try readFloats(try ModelStore.inside(folder, index.outputsFile), count: index.count * index.numClasses)
        return GoldenVectors(index: index, inputs: inputs, reference: reference)
    }

    /// Raw little-endian float32 -> [Float]; the size must be exactly `count` floats.
    static func readFloats(_ url: URL, count: Int) throws -> [Float] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelStoreError.unreadable(url.lastPathComponent, underlying: error)
        }
        guard data.count == count * MemoryLayout<Float>.size else {
            throw ModelStoreError.goldenMismatch("\(url.lastPathComponent) holds \(data.count) bytes, expected \(count * 4)")
        }
        return data.withUnsafeBytes { raw in
            (0..<count).map { i in
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        }
    }

    func check(against manifest: ArtifactManifest) throws {
        let pre = manifest.preprocessing
        if index.inputShape[1] != pre.height || index.inputShape[2] != pre.width {
            throw ModelStoreError.goldenMismatch("inputs are \(index.inputShape[1])x\(index.inputShape[2]), the model takes \(pre.height)x\(pre.width)")
        }
        if index.numClasses != manifest.labels.count {
            throw ModelStoreError.goldenMismatch("\(index.numClasses) classes, the model has \(manifest.labels.count)")
        }
        if let names = index.labelNames, names != manifest.labels {
            throw ModelStoreError.goldenMismatch("label_names differ from the model's labels")
        }
        if let goldenPre = index.preprocessing, goldenPre != pre {
            throw ModelStoreError.goldenMismatch("preprocessing differs from the manifest's")
        }
        if let ours = manifest.source?.fingerprint, let theirs = index.reference.fingerprint, ours != theirs {
            throw ModelStoreError.goldenMismatch("they come from another SavedModel")
        }
    }
}
