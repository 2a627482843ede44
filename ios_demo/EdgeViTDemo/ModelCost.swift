import Foundation

// The model's size and cost, counted on the host from its config (edgevit/model_cost.py, model_block):
// `edgevit ios-sync` puts it in sync.json and the app writes it unchanged as the record's `model` block,
// so one type reads and writes it.

// json: sync.model, record.model
struct ModelCost: Codable, Sendable {
    @NullEncoded var variant: String?
    let imageSize: Int
    let numClasses: Int
    @NullEncoded var macsPerImage: Int?
    @NullEncoded var flopsPerImage: Int?

    enum CodingKeys: String, CodingKey {
        case variant = "variant"
        case imageSize = "image_size"
        case numClasses = "num_classes"
        case macsPerImage = "macs_per_image"
        case flopsPerImage = "flops_per_image"
    }
}
