import Foundation

// One benchmark record in edgevit's record schema (edgevit/schemas/record-v1.schema.json), so that
// `edgevit report` merges the phone's numbers with the host's. Every key the schema requires is always
// written (null where not measured): encode(to:) below encodes optionals explicitly instead of
// leaving them out. tests/test_ios_keys.py checks these keys against the schema file.

// json: records-file
struct RecordsFile: Encodable {
    let schemaVersion: Int
    let records: [BenchRecord]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case records = "records"
    }
}

// json: record
struct BenchRecord: Encodable {
    var schemaVersion = 1
    var kind = "bench"
    var created: String
    /// "ok", "parity failed", "failed" or "not available", as in the schema.
    var status: String
    var reason: String?
    var producer: Producer
    var machine: MachineInfo
    var toolVersions: [String: String]
    var artifact: ArtifactInfo?
    var runtime: RuntimeInfo?
    var model: ModelInfo?
    var loadMs: Double?
    var firstInferenceMs: Double?
    var latency: LatencyStats?
    var throughput: [ThroughputEntry]
    var memory: MemoryInfo?
    var parity: ParityResult?
    var command: String?
    var notes: String?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case kind = "kind"
        case created = "created"
        case status = "status"
        case reason = "reason"
        case producer = "producer"
        case machine = "machine"
        case toolVersions = "tool_versions"
        case artifact = "artifact"
        case runtime = "runtime"
        case model = "model"
        case loadMs = "load_ms"
        case firstInferenceMs = "first_inference_ms"
        case latency = "latency"
        case throughput = "throughput"
        case memory = "memory"
        case compute = "compute"
        case peak = "peak"
        case parity = "parity"
        case command = "command"
        case notes = "notes"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(kind, forKey: .kind)
        try c.encode(created, forKey: .created)
        try c.encode(status, forKey: .status)
        try c.encode(reason, forKey: .reason)
        try c.encode(producer, forKey: .producer)
        try c.encode(machine, forKey: .machine)
        try c.encode(toolVersions, forKey: .toolVersions)
        try c.encode(artifact, forKey: .artifact)
        try c.encode(runtime, forKey: .runtime)
        try c.encode(model, forKey: .model)
        try c.encode(loadMs, forKey: .loadMs)
        try c.encode(firstInferenceMs, forKey: .firstInferenceMs)
        try c.encode(latency, forKey: .latency)
        try c.encode(throughput, forKey: .throughput)
        try c.encode(memory, forKey: .memory)
        // No GEMM peak is measured on the phone, so there is no compute block and no peak record.
        try c.encodeNil(forKey: .compute)
        try c.encodeNil(forKey: .peak)
        try c.encode(parity, forKey: .parity)
        try c.encode(command, forKey: .command)
        try c.encode(notes, forKey: .notes)
    }
}

// json: record.producer
struct Producer: Encodable {
    let name: String
    let version: String

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case version = "version"
    }
}

// json: record.machine
struct MachineInfo: Encodable {
    let id: String
    let os: String
    let osRelease: String
    let arch: String
    let cpuModel: String
    let cpuCoresLogical: Int
    let cpuCoresPhysical: Int?
    let cpuFeatures: [String]
    let memoryBytes: Int
    let deviceModel: String?
    let python: String?
    let accelerators: [Accelerator]

    enum CodingKeys: String, CodingKey {
        case id = "id"
        case os = "os"
        case osRelease = "os_release"
        case arch = "arch"
        case cpuModel = "cpu_model"
        case cpuCoresLogical = "cpu_cores_logical"
        case cpuCoresPhysical = "cpu_cores_physical"
        case cpuFeatures = "cpu_features"
        case memoryBytes = "memory_bytes"
        case deviceModel = "device_model"
        case python = "python"
        case accelerators = "accelerators"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(os, forKey: .os)
        try c.encode(osRelease, forKey: .osRelease)
        try c.encode(arch, forKey: .arch)
        try c.encode(cpuModel, forKey: .cpuModel)
        try c.encode(cpuCoresLogical, forKey: .cpuCoresLogical)
        try c.encode(cpuCoresPhysical, forKey: .cpuCoresPhysical)
        try c.encode(cpuFeatures, forKey: .cpuFeatures)
        try c.encode(memoryBytes, forKey: .memoryBytes)
        try c.encode(deviceModel, forKey: .deviceModel)
        try c.encode(python, forKey: .python)
        try c.encode(accelerators, forKey: .accelerators)
    }
}

// json: record.machine.accelerators[]
struct Accelerator: Encodable {
    /// "gpu" or "ane" on an iPhone.
    let kind: String
    let name: String

    enum CodingKeys: String, CodingKey {
        case kind = "kind"
        case name = "name"
    }
}

// json: record.artifact
struct ArtifactInfo: Encodable {
    let name: String
    let format: String
    let quantization: String
    let file: String?
    let fileSize: Int
    let sha256: String?
    let sourceFingerprint: String?

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case format = "format"
        case quantization = "quantization"
        case file = "file"
        case fileSize = "file_size"
        case sha256 = "sha256"
        case sourceFingerprint = "source_fingerprint"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(format, forKey: .format)
        try c.encode(quantization, forKey: .quantization)
        try c.encode(file, forKey: .file)
        try c.encode(fileSize, forKey: .fileSize)
        try c.encode(sha256, forKey: .sha256)
        try c.encode(sourceFingerprint, forKey: .sourceFingerprint)
    }
}

// json: record.runtime
struct RuntimeInfo: Encodable {
    /// "litert" (TensorFlowLiteSwift) or "coreml".
    let name: String
    let version: String?
    /// What was asked for: "cpu" for TFLite, "all" compute units for Core ML.
    let device: String
    let threads: Int?
    let emulated: Bool
    let details: [String: String]

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case version = "version"
        case device = "device"
        case threads = "threads"
        case emulated = "emulated"
        case details = "details"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(version, forKey: .version)
        try c.encode(device, forKey: .device)
        try c.encode(threads, forKey: .threads)
        try c.encode(emulated, forKey: .emulated)
        try c.encode(details, forKey: .details)
    }
}

// json: record.model
struct ModelInfo: Encodable {
    let variant: String?
    let imageSize: Int
    let numClasses: Int
    let macsPerImage: Int?
    let flopsPerImage: Int?

    enum CodingKeys: String, CodingKey {
        case variant = "variant"
        case imageSize = "image_size"
        case numClasses = "num_classes"
        case macsPerImage = "macs_per_image"
        case flopsPerImage = "flops_per_image"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(variant, forKey: .variant)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(numClasses, forKey: .numClasses)
        try c.encode(macsPerImage, forKey: .macsPerImage)
        try c.encode(flopsPerImage, forKey: .flopsPerImage)
    }
}

// json: record.latency
struct LatencyStats: Encodable {
    let batch: Int
    let warmup: Int
    let runs: Int
    let p50Ms: Double
    let p90Ms: Double
    let p99Ms: Double
    let minMs: Double
    let meanMs: Double
    let maxMs: Double
    let stdevMs: Double?
    let percentileMethod = "linear"
    let clock: String
    let samplesMs: [Double]

    enum CodingKeys: String, CodingKey {
        case batch = "batch"
        case warmup = "warmup"
        case runs = "runs"
        case p50Ms = "p50_ms"
        case p90Ms = "p90_ms"
        case p99Ms = "p99_ms"
        case minMs = "min_ms"
        case meanMs = "mean_ms"
        case maxMs = "max_ms"
        case stdevMs = "stdev_ms"
        case percentileMethod = "percentile_method"
        case clock = "clock"
        case samplesMs = "samples_ms"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(batch, forKey: .batch)
        try c.encode(warmup, forKey: .warmup)
        try c.encode(runs, forKey: .runs)
        try c.encode(p50Ms, forKey: .p50Ms)
        try c.encode(p90Ms, forKey: .p90Ms)
        try c.encode(p99Ms, forKey: .p99Ms)
        try c.encode(minMs, forKey: .minMs)
        try c.encode(meanMs, forKey: .meanMs)
        try c.encode(maxMs, forKey: .maxMs)
        try c.encode(stdevMs, forKey: .stdevMs)
        try c.encode(percentileMethod, forKey: .percentileMethod)
        try c.encode(clock, forKey: .clock)
        try c.encode(samplesMs, forKey: .samplesMs)
    }
}

// json: record.throughput[]
struct ThroughputEntry: Encodable {
    let batch: Int
    let warmup: Int
    let runs: Int
    let imagesPerSecond: Double
    let batchP50Ms: Double

    enum CodingKeys: String, CodingKey {
        case batch = "batch"
        case warmup = "warmup"
        case runs = "runs"
        case imagesPerSecond = "images_per_second"
        case batchP50Ms = "batch_p50_ms"
    }
}

// json: record.memory
struct MemoryInfo: Encodable {
    let peakRssBytes: Int
    let rssBeforeLoadBytes: Int?
    let scope: String

    enum CodingKeys: String, CodingKey {
        case peakRssBytes = "peak_rss_bytes"
        case rssBeforeLoadBytes = "rss_before_load_bytes"
        case scope = "scope"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peakRssBytes, forKey: .peakRssBytes)
        try c.encode(rssBeforeLoadBytes, forKey: .rssBeforeLoadBytes)
        try c.encode(scope, forKey: .scope)
    }
}

// json: record.parity
struct ParityResult: Encodable {
    let reference: String
    let split = "golden"
    let count: Int
    let accuracy: Double?
    let referenceAccuracy: Double?
    let agreement: Double
    let flips: Int
    /// nil when the model returned NaN or infinite probabilities.
    let maxAbsDiff: Double?
    let passed: Bool
    let gate: ParityGate

    enum CodingKeys: String, CodingKey {
        case reference = "reference"
        case split = "split"
        case count = "count"
        case accuracy = "accuracy"
        case referenceAccuracy = "reference_accuracy"
        case agreement = "agreement"
        case flips = "flips"
        case maxAbsDiff = "max_abs_diff"
        case passed = "passed"
        case gate = "gate"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(reference, forKey: .reference)
        try c.encode(split, forKey: .split)
        try c.encode(count, forKey: .count)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(referenceAccuracy, forKey: .referenceAccuracy)
        try c.encode(agreement, forKey: .agreement)
        try c.encode(flips, forKey: .flips)
        try c.encode(maxAbsDiff, forKey: .maxAbsDiff)
        try c.encode(passed, forKey: .passed)
        try c.encode(gate, forKey: .gate)
    }
}
