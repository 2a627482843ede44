import SwiftUI

/// Benchmark mode: golden-vector parity + N timed runs of the chosen runtime, exported as a record.
struct BenchmarkView: View {
    let store: ModelStore
    @Binding var format: ModelFormat
    @State private var settings = BenchmarkSettings()
    @StateObject private var run = BenchmarkRun()

    var body: some View {
        NavigationStack {
            Form {
                Section("Runtime") {
                    FormatPicker(store: store, format: $format)
                    if let artifact = store.artifacts[format] {
                        LabeledContent("Artifact", value: "\(artifact.manifest.name) (\(artifact.manifest.quantization))")
                        LabeledContent("Input", value: "\(artifact.manifest.preprocessing.width)x\(artifact.manifest.preprocessing.height), \(artifact.manifest.labels.count) classes")
                        LabeledContent("Gate", value: gateText(artifact.gate))
                    }
                }
                Section("Runs") {
                    Stepper("Warm-up: \(settings.warmup)", value: $settings.warmup, in: 0...100)
                    Stepper("Timed runs: \(settings.runs)", value: $settings.runs, in: 1...1000, step: 10)
                    if format == .tflite {
                        Stepper("Threads: \(settings.threads)", value: $settings.threads, in: 1...8)
                    }
                    Button(run.running ? "Running..." : "Run benchmark") { run.start(store: store, format: format, settings: settings) }
                        .disabled(run.running)
                    if !run.status.isEmpty { Text(run.status).font(.footnote) }
                    if let error = run.error { Text(error).foregroundStyle(.red) }
                }
                if let outcome = run.outcome {
                    ResultSection(outcome: outcome)
                }
            }
            .navigationTitle("Benchmark")
        }
    }

    private func gateText(_ gate: ParityGate) -> String {
        let agreement = gate.minAgreement.map { String(format: ", agreement >= %.1f%%", $0 * 100) } ?? ""
        return String(format: "max |dp| %.3g", gate.maxAbsError) + agreement
    }
}

/// One benchmark at a time; its progress and outcome, on the main actor. The runner works off the main
/// actor and reports through a closure that holds only this (Sendable, main-actor) object.
@MainActor
final class BenchmarkRun: ObservableObject {
    @Published var status = ""
    @Published var running = false
    @Published var outcome: BenchmarkOutcome?
    @Published var error: String?

    func start(store: ModelStore, format: ModelFormat, settings: BenchmarkSettings) {
        running = true
        error = nil
        outcome = nil
        Task {
            do {
                outcome = try await BenchmarkRunner.run(store: store, format: format, settings: settings) { [weak self] message in
                    Task { @MainActor in self?.status = message }
                }
            } catch {
                self.error = error.localizedDescription
            }
            running = false
        }
    }
}

/// Parity and latency of one run, and the share sheet for its record file.
struct ResultSection: View {
    let outcome: BenchmarkOutcome

    var body: some View {
        let record = outcome.record
        Section("Result: \(record.status)") {
            if let parity = record.parity {
                LabeledContent("Golden vectors", value: "\(parity.count) vs \(parity.reference)")
                LabeledContent("Max |dp|", value: parity.maxAbsDiff.map { String(format: "%.3g", $0) } ?? "NaN")
                LabeledContent("Top-1 agreement", value: String(format: "%.1f%% (%d flipped)", parity.agreement * 100, parity.flips))
                LabeledContent("Parity", value: parity.passed ? "passed" : "FAILED")
            }
            ForEach(outcome.failures, id: \.self) { Text($0).foregroundStyle(.red) }
            if let latency = record.latency {
                LabeledContent("p50 / p90 / p99", value: String(format: "%.2f / %.2f / %.2f ms", latency.p50Ms, latency.p90Ms, latency.p99Ms))
                LabeledContent("min", value: String(format: "%.2f ms (batch 1, %d runs after %d warm-up)", latency.minMs, latency.runs, latency.warmup))
            }
            if let load = record.loadMs, let first = record.firstInferenceMs {
                LabeledContent("Load / first inference", value: String(format: "%.0f / %.1f ms", load, first))
            }
            if let memory = record.memory {
                LabeledContent("Peak footprint", value: String(format: "%.0f MiB (phys_footprint, app process)", Double(memory.peakRssBytes) / 1_048_576))
            }
            ShareLink(item: outcome.fileURL) {
                Label("Export record (\(outcome.fileURL.lastPathComponent))", systemImage: "square.and.arrow.up")
            }
        }
    }
}
