import Foundation

/// Benchmark mode: the golden vectors (parity against the SavedModel, judged by the synced gate), then a
/// latency run, written as one record in edgevit's schema. Mirrors edgevit/portable on a phone.
struct BenchmarkSettings: Sendable {
    var warmup = 5
    var runs = 50
    var threads = 2
}

struct BenchmarkOutcome: Sendable {
    let record: BenchRecord
    let fileURL: URL
    /// Why parity failed, one line per miss of the gate; empty when it passed.
    let failures: [String]
}

enum BenchmarkRunner {
    static let producerName = "ios_demo"

    static func run(store: ModelStore, format: ModelFormat, settings: BenchmarkSettings,
                    progress: @escaping @Sendable (String) -> Void) async throws -> BenchmarkOutcome {
        let artifact = try store.artifact(format)
        progress("checking \(artifact.manifest.file)")
        try store.verifyChecksum(of: artifact)
        let golden = try store.goldenVectors(for: artifact)

        // As the host harness (edgevit/portable/main.py): a model loaded fresh for this run, its load and its
        // first inference each timed once, then parity at batch 1, then warm-up + timed calls of one input.
        // Memory: phys_footprint sampled between the phases (never inside a timed call).
        progress("loading the model")
        let footprintBefore = DeviceProbe.physFootprint()
        var footprints = [footprintBefore].compactMap { $0 }
        let (classifier, loadMs) = try await Statistics.timedAsync {
            try await ClassifierFactory.make(artifact, threads: settings.threads)
        }
        footprints += [DeviceProbe.physFootprint()].compactMap { $0 }
        let (_, firstMs) = try Statistics.timed { try classifier.predict(input: golden.input(0)) }
        footprints += [DeviceProbe.physFootprint()].compactMap { $0 }

        progress("parity on \(golden.count) golden vectors")
        var outputs: [[Float]] = []
        for i in 0..<golden.count {
            outputs.append(try classifier.predict(input: golden.input(i)))
        }
        let (parity, failures) = Parity.judge(outputs: outputs, golden: golden, gate: artifact.gate)
        footprints += [DeviceProbe.physFootprint()].compactMap { $0 }

        progress("timing \(settings.warmup) warm-up + \(settings.runs) runs")
        let one = golden.input(0)
        for _ in 0..<settings.warmup {
            _ = try classifier.predict(input: one)
        }
        var samples: [Double] = []
        for _ in 0..<settings.runs {
            let (_, ms) = try Statistics.timed { try classifier.predict(input: one) }
            samples.append(ms)
        }
        footprints += [DeviceProbe.physFootprint()].compactMap { $0 }

        var memory: MemoryInfo? = nil
        if let peak = footprints.max() {
            memory = MemoryInfo(peakRssBytes: peak, rssBeforeLoadBytes: footprintBefore, scope: DeviceProbe.footprintScope)
        }
        let record = BenchRecord(
            created: utcTimestamp(),
            status: failures.isEmpty ? "ok" : "parity failed",
            reason: failures.isEmpty ? nil : failures.joined(separator: "; "),
            producer: Producer(name: producerName, version: appVersion()),
            machine: DeviceProbe.machine(),
            toolVersions: toolVersions(classifier.runtime),
            artifact: artifactInfo(artifact.manifest),
            runtime: RuntimeInfo(name: classifier.runtime.name, version: classifier.runtime.version,
                                 device: classifier.runtime.device, threads: classifier.runtime.threads,
                                 emulated: false, details: classifier.runtime.details),
            model: store.index.model,
            loadMs: loadMs,
            firstInferenceMs: firstMs,
            latency: Statistics.latency(samples: samples, batch: 1, warmup: settings.warmup),
            throughput: [Statistics.throughput(samples: samples, batch: 1, warmup: settings.warmup)],
            memory: memory,
            parity: parity,
            command: "ios_demo benchmark \(format.rawValue) warmup=\(settings.warmup) runs=\(settings.runs)",
            notes: nil)
        let url = try write(record)
        progress("done")
        return BenchmarkOutcome(record: record, fileURL: url, failures: failures)
    }

    /// Documents/results/<machine id>-<UTC time>.json: {"schema_version": 1, "records": [record]}.
    static func write(_ record: BenchRecord) throws -> URL {
        let documents = try FileManager.default.url(for: .documentDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let folder = documents.appendingPathComponent("results", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stamp = record.created.replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        let url = folder.appendingPathComponent("\(record.machine.id)-\(stamp).json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(RecordsFile(schemaVersion: 1, records: [record])).write(to: url, options: .atomic)
        return url
    }

    /// e.g. 2026-11-23T10:00:00+00:00, the form the schema's `created` shows.
    static func utcTimestamp(_ date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxxxx"
        return formatter.string(from: date)
    }

    static func appVersion() -> String {
        Bundle.main.infoDictionary?["CFBundleShortVersionString"] as? String ?? "unknown"
    }

    static func toolVersions(_ runtime: RuntimeDescription) -> [String: String] {
        var versions = ["ios": ProcessInfo.processInfo.operatingSystemVersionString, "ios_demo": appVersion()]
        if let version = runtime.version {
            versions[runtime.name == "litert" ? "TensorFlowLiteSwift" : runtime.name] = version
        }
        return versions
    }

    static func artifactInfo(_ manifest: ArtifactManifest) -> ArtifactInfo {
        ArtifactInfo(name: manifest.name, format: manifest.format, quantization: manifest.quantization,
                     file: manifest.file, fileSize: manifest.fileSize, sha256: manifest.sha256,
                     sourceFingerprint: manifest.source?.fingerprint)
    }
}

/// Golden-vector parity, the same rules as edgevit/portable/parity.py.
enum Parity {
    static func judge(outputs: [[Float]], golden: GoldenVectors, gate: ParityGate) -> (ParityResult, [String]) {
        let count = golden.count
        var maxAbsDiff: Float = 0
        var finite = true
        var agree = 0, correct = 0, referenceCorrect = 0
        for i in 0..<count {
            let ours = outputs[i]
            let reference = Array(golden.referenceProbabilities(i))
            for (a, b) in zip(ours, reference) {
                if !a.isFinite { finite = false }
                maxAbsDiff = max(maxAbsDiff, abs(a - b))
            }
            let ourTop = argmax(ours), referenceTop = argmax(reference)
            if ourTop == referenceTop { agree += 1 }
            if let labels = golden.index.trueLabels {
                if ourTop == labels[i] { correct += 1 }
                if referenceTop == labels[i] { referenceCorrect += 1 }
            }
        }
        let agreement = Double(agree) / Double(count)
        var failures: [String] = []
        if !finite {
            failures.append("the model returned NaN or infinite probabilities")
        } else if Double(maxAbsDiff) > gate.maxAbsError {
            failures.append(String(format: "max |probability difference| %.3g > gate %.3g", Double(maxAbsDiff), gate.maxAbsError))
        }
        if let minAgreement = gate.minAgreement, agreement < minAgreement {
            failures.append(String(format: "top-1 agreement %.2f%% (%d of %d flipped) < gate %.2f%%",
                                   agreement * 100, count - agree, count, minAgreement * 100))
        }
        let hasLabels = golden.index.trueLabels != nil
        let result = ParityResult(
            reference: golden.index.reference.runtime, count: count,
            accuracy: hasLabels ? Double(correct) / Double(count) : nil,
            referenceAccuracy: hasLabels ? Double(referenceCorrect) / Double(count) : nil,
            agreement: agreement, flips: count - agree,
            maxAbsDiff: finite ? Double(maxAbsDiff) : nil, passed: failures.isEmpty, gate: gate)
        return (result, failures)
    }

    static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] {
            best = i
        }
        return best
    }
}
