import SwiftUI

@main
struct EdgeViTDemoApp: App {
    var body: some Scene {
        WindowGroup {
            RootView()
        }
    }
}

/// Loads what `edgevit ios-sync` put into the app once, then offers the live camera and the benchmark.
struct RootView: View {
    @State private var store: Result<ModelStore, Error>? = nil
    @AppStorage("format") private var formatName = ModelFormat.tflite.rawValue

    var body: some View {
        Group {
            switch store {
            case .none:
                ProgressView("Reading Models/")
            case .failure(let error):
                VStack(spacing: 12) {
                    Image(systemName: "exclamationmark.triangle").font(.largeTitle)
                    Text(error.localizedDescription).multilineTextAlignment(.center)
                }
                .padding()
            case .success(let loaded):
                TabView {
                    LiveView(store: loaded, format: binding(for: loaded))
                        .tabItem { Label("Live", systemImage: "camera") }
                    BenchmarkView(store: loaded, format: binding(for: loaded))
                        .tabItem { Label("Benchmark", systemImage: "speedometer") }
                }
            }
        }
        .task {
            if store == nil {
                store = Result { try ModelStore.load() }
            }
        }
    }

    /// The TFLite / Core ML switch, shared by both tabs; falls back to a format that was synced.
    private func binding(for store: ModelStore) -> Binding<ModelFormat> {
        Binding(
            get: {
                let chosen = ModelFormat(rawValue: formatName) ?? .tflite
                return store.artifacts[chosen] != nil ? chosen : (store.availableFormats.first ?? .tflite)
            },
            set: { formatName = $0.rawValue })
    }
}

/// The runtime switch: one segment per synced format.
struct FormatPicker: View {
    let store: ModelStore
    @Binding var format: ModelFormat

    var body: some View {
        Picker("Runtime", selection: $format) {
            ForEach(store.availableFormats) { format in
                Text(format.title).tag(format)
            }
        }
        .pickerStyle(.segmented)
    }
}
