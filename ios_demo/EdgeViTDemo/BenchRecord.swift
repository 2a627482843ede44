import Foundation

// One benchmark record in edgevit's record schema (edgevit/schemas/record-v1.schema.json), so that
// `edgevit report` merges the phone's numbers with the host's. Every key the schema requires is always
// written, null where not measured: optionals are `@NullEncoded` (NullEncoded.swift) rather than left
// out. tests/test_ios_keys.py checks these keys against the schema file.

// json: records-file
struct RecordsFile: Encodable, Sendable {
    let schemaVersion: Int
    let records: [BenchRecord]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case records = "records"
    }
}

// json: record
struct BenchRecord: Encodable, Sendable {
    var schemaVersion = 1
    var kind = "bench"
    var created: String
    /// "ok", "parity failed", "failed" or "not available", as in the schema.
    var status: String
    @NullEncoded var reason: String?
    var producer: Producer
    var machine: MachineInfo
    var toolVersions: [String: String]
    @NullEncoded var artifact: ArtifactInfo?
    @NullEncoded var runtime: RuntimeInfo?
    @NullEncoded var model: ModelCost?
    @NullEncoded var loadMs: Double?
    @NullEncoded var firstInferenceMs: Double?
    @NullEncoded var latency: LatencyStats?
    var throughput: [ThroughputEntry]
    @NullEncoded var memory: MemoryInfo?
    /// No GEMM peak is measured on the phone, so there is no compute block and no peak record.
    let compute = NotMeasured()
    let peak = NotMeasured()
    @NullEncoded var parity: ParityResult?
    @NullEncoded var command: String?
    @NullEncoded var notes: String?

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
}

// json: record.producer
struct Producer: Encodable, Sendable {
    let name: String
    let version: String

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case version = "version"
    }
}

// json: record.machine
struct MachineInfo: Encodable, Sendable {
    let id: String
    let os: String
    let osRelease: String
    let arch: String
    let cpuModel: String
    let cpuCoresLogical: Int
    @NullEncoded var cpuCoresPhysical: Int?
    let cpuFeatures: [String]
    let memoryBytes: Int
    @NullEncoded var deviceModel: String?
    @NullEncoded var python: String?
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
}

// json: record.machine.accelerators[]
struct Accelerator: Encodable, Sendable {
    /// "gpu" or "ane" on an iPhone.
    let kind: String
    let name: String

    enum CodingKeys: String, CodingKey {
        case kind = "kind"
        case name = "name"
    }
}

// json: record.artifact
struct ArtifactInfo: Encodable, Sendable {
    let name: String
    let format: String
    let quantization: String
    @NullEncoded var file: String?
    let fileSize: Int
    @NullEncoded var sha256: String?
    @NullEncoded var sourceFingerprint: String?

    enum CodingKeys: String, CodingKey {
        case name = "name"
        case format = "format"
        case quantization = "quantization"
        case file = "file"
        case fileSize = "file_size"
        case sha256 = "sha256"
        case sourceFingerprint = "source_fingerprint"
    }
}

// json: record.runtime
struct RuntimeInfo: Encodable, Sendable {
    /// "litert" (TensorFlowLiteSwift) or "coreml".
    let name: String
    @NullEncoded var version: String?
    /// What was asked for: "cpu" for TFLite, "all" compute units for Core ML.
    let device: String
    @NullEncoded var threads: Int?
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
}

// json: record.latency
struct LatencyStats: Encodable, Sendable {
    let batch: Int
    let warmup: Int
    let runs: Int
    let p50Ms: Double
    let p90Ms: Double
    let p99Ms: Double
    let minMs: Double
    let meanMs: Double
    let maxMs: Double
    @NullEncoded var stdevMs: Double?
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
}

// json: record.throughput[]
struct ThroughputEntry: Encodable, Sendable {
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
struct MemoryInfo: Encodable, Sendable {
    let peakRssBytes: Int
    @NullEncoded var rssBeforeLoadBytes: Int?
    let scope: String

    enum CodingKeys: String, CodingKey {
        case peakRssBytes = "peak_rss_bytes"
        case rssBeforeLoadBytes = "rss_before_load_bytes"
        case scope = "scope"
    }
}

// json: record.parity
struct ParityResult: Encodable, Sendable {
    let reference: String
    let split = "golden"
    let count: Int
    @NullEncoded var accuracy: Double?
    @NullEncoded var referenceAccuracy: Double?
    let agreement: Double
    let flips: Int
    /// nil when the model returned NaN or infinite probabilities.
    @NullEncoded var maxAbsDiff: Double?
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
}
