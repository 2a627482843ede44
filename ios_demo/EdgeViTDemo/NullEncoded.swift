import Foundation

// The record schema requires its keys even when nothing was measured: the value is JSON null, the key
// is never left out. Synthesized Codable leaves an optional's key out when it is nil (encodeIfPresent),
// so every optional the app writes is declared `@NullEncoded var x: T?` instead, and this file is the
// one place that writes null. tests/test_ios_keys.py checks that no other Swift file does.

/// An optional whose key is always written: its value, or null when there is none.
@propertyWrapper
struct NullEncoded<Value> {
    var wrappedValue: Value?

    init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }
}

extension NullEncoded: Sendable where Value: Sendable {}

extension NullEncoded: Encodable where Value: Encodable {
    /// Used where no keyed container is involved (e.g. inside an array); keyed fields go through the
    /// KeyedEncodingContainer overload below.
    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value = wrappedValue {
            try container.encode(value)
        } else {
            try container.encodeNil()
        }
    }
}

extension NullEncoded: Decodable where Value: Decodable {
    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }
}

extension KeyedEncodingContainer {
    /// Synthesized encode(to:) calls this for a `@NullEncoded` property (it is more specific than the
    /// generic overload): the key is written with the value, or with an explicit null.
    mutating func encode<Value: Encodable>(_ field: NullEncoded<Value>, forKey key: Key) throws {
        if let value = field.wrappedValue {
            try encode(value, forKey: key)
        } else {
            try encodeNil(forKey: key)
        }
    }
}

extension KeyedDecodingContainer {
    /// Synthesized init(from:) calls this for a `@NullEncoded` property: a missing key reads as nil,
    /// like a plain optional, instead of failing with keyNotFound.
    func decode<Value: Decodable>(_ type: NullEncoded<Value>.Type, forKey key: Key) throws -> NullEncoded<Value> {
        NullEncoded(wrappedValue: try decodeIfPresent(Value.self, forKey: key))
    }
}

/// A record block the phone never fills, written as null. No GEMM peak is measured on the phone, so a
/// bench record from the app has no `compute` block and no `peak` record.
struct NotMeasured: Encodable, Sendable {
    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}
