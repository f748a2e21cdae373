extension Array where Element == Double {
    /// The nearest-rank percentile (`p` in 0...100): the smallest value with at least p % of
    /// the values at or below it. nil for an empty array.
    public func percentile(_ p: Double) -> Double? {
        guard !isEmpty else { return nil }
        let sorted = self.sorted()
        let rank = Int((p / 100 * Double(count)).rounded(.up))
        return sorted[Swift.max(0, Swift.min(count - 1, rank - 1))]
    }
}
