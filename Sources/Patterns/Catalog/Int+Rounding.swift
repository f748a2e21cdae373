extension Int {
    /// Integer division rounding up, for counts of rounds: 10 tasks, 3 at a time, is 4.
    func dividedRoundingUp(by divisor: Int) -> Int {
        (self + divisor - 1) / divisor
    }
}
