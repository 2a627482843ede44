import Foundation

/// Timing and its summary exactly as edgevit's record schema describes: every sample kept, percentiles
/// by linear interpolation between order statistics (numpy's default).
enum Statistics {
    static let clockName = "mach_absolute_time (DispatchTime.uptimeNanoseconds)"

    static func percentile(_ samples: [Double], _ q: Double) -> Double {
        let ordered = samples.sorted()
        let position = q / 100 * Double(ordered.count - 1)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, ordered.count - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - Double(low))
    }

    /// Wall milliseconds of one call, and its result.
    static func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }

    /// Wall milliseconds of one async call (a model load), and its result.
    static func timedAsync<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try await body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }

    static func latency(samples: [Double], batch: Int, warmup: Int) -> LatencyStats {
        let mean = samples.reduce(0, +) / Double(samples.count)
        var stdev: Double? = nil
        if samples.count > 1 {
            let squares = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            stdev = (squares / Double(samples.count - 1)).squareRoot()
        }
        return LatencyStats(
            batch: batch, warmup: warmup, runs: samples.count,
            p50Ms: percentile(samples, 50), p90Ms: percentile(samples, 90), p99Ms: percentile(samples, 99),
            minMs: samples.min() ?? 0, meanMs: mean, maxMs: samples.max() ?? 0, stdevMs: stdev,
            clock: clockName, samplesMs: samples)
    }

    static func throughput(samples: [Double], batch: Int, warmup: Int) -> ThroughputEntry {
        let totalSeconds = samples.reduce(0, +) / 1000
        return ThroughputEntry(
            batch: batch, warmup: warmup, runs: samples.count,
            imagesPerSecond: totalSeconds > 0 ? Double(batch * samples.count) / totalSeconds : 0,
            batchP50Ms: percentile(samples, 50))
    }
}
