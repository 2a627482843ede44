import CoreML
import Darwin
import Foundation
import Metal

/// The record's `machine` block and the process's memory, read from the OS (sysctl, Mach, ProcessInfo).
/// `id` is built like edgevit/machine.py's slug (os-arch-cpu-cores-memory) so result files line up.
enum DeviceProbe {
    static func machine() -> MachineInfo {
        let identifier = sysctlString("hw.machine") ?? "unknown"  // e.g. iPhone12,3 (iPhone 11 Pro)
        let cpuModel = sysctlString("machdep.cpu.brand_string") ?? "Apple \(identifier)"
        let cores = ProcessInfo.processInfo.processorCount
        let memory = Int(ProcessInfo.processInfo.physicalMemory)
        var features = ["asimd", "neon"]
        if sysctlInt("hw.optional.arm.FEAT_DotProd") == 1 { features.append("asimddp") }
        if sysctlInt("hw.optional.arm.FEAT_I8MM") == 1 { features.append("i8mm") }
        let id = ["ios", "arm64", slug(cpuModel), "\(cores)c", "\(Int((Double(memory) / 1_073_741_824).rounded()))g"]
            .filter { !$0.isEmpty }.joined(separator: "-")
        let version = ProcessInfo.processInfo.operatingSystemVersion
        return MachineInfo(
            id: id, os: "iOS", osRelease: "\(version.majorVersion).\(version.minorVersion).\(version.patchVersion)", arch: "arm64", cpuModel: cpuModel,
            cpuCoresLogical: cores, cpuCoresPhysical: sysctlInt("hw.physicalcpu"), cpuFeatures: features,
            memoryBytes: memory, deviceModel: identifier, python: nil, accelerators: accelerators())
    }

    static func accelerators() -> [Accelerator] {
        var found: [Accelerator] = []
        if let gpu = MTLCreateSystemDefaultDevice() {
            found.append(Accelerator(kind: "gpu", name: gpu.name))
        }
        if #available(iOS 17.0, *) {
            for device in MLComputeDevice.allComputeDevices {
                if case .neuralEngine(let engine) = device {
                    found.append(Accelerator(kind: "ane", name: "Apple Neural Engine (\(engine.totalCoreCount) cores)"))
                }
            }
        }
        return found
    }

    /// Lower-case, "(tm)"-style marks and the words cpu/processor dropped, runs of other characters -> "-".
    static func slug(_ text: String) -> String {
        var s = text.lowercased()
        for mark in ["(r)", "(tm)", "(c)", "cpu", "processor"] {
            s = s.replacingOccurrences(of: mark, with: " ")
        }
        let parts = s.split(whereSeparator: { !($0.isASCII && ($0.isLetter || $0.isNumber)) })
        return parts.joined(separator: "-")
    }

    /// What the memory figure of a record is, written into the record beside it.
    static let footprintScope = "phys_footprint (Mach TASK_VM_INFO) of the app process, the figure iOS's memory limit is "
        + "applied to: the largest of samples taken before loading, after loading, after the first inference, after "
        + "the golden-vector runs and after the timed runs, with a model loaded fresh for this run and the Live tab's "
        + "model released; the app itself (SwiftUI, the golden vectors in memory) is included"

    /// The process's physical footprint now, in bytes (nil if the kernel call fails). Unlike resident size it
    /// counts compressed and swapped-out dirty memory and not clean file-backed pages: it is what jetsam uses.
    static func physFootprint() -> Int? {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let status = withUnsafeMutablePointer(to: &info) { pointer in
            pointer.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
            }
        }
        guard status == KERN_SUCCESS else { return nil }
        return Int(info.phys_footprint)
    }

    static func sysctlString(_ name: String) -> String? {
        var size = 0
        guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: size)
        guard sysctlbyname(name, &buffer, &size, nil, 0) == 0 else { return nil }
        return String(cString: buffer)
    }

    static func sysctlInt(_ name: String) -> Int? {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard sysctlbyname(name, &value, &size, nil, 0) == 0 else { return nil }
        return Int(value)
    }
}
