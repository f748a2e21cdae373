extension ThreadLauncher {
    /// Pthreads that count as active in `activity` from launch until they end (or block on
    /// the virtual clock). A launch returns only once its thread has parked or ended, so
    /// threads started one after another reach the clock in that order: a virtual run's
    /// timeline does not depend on how the OS schedules them.
    public static func tracked(by activity: ActivityCounter) -> ThreadLauncher {
        ThreadLauncher { body in
            let before = activity.active
            activity.begin()
            do {
                try ThreadLauncher.pthreads.launch {
                    body()
                    activity.end()
                }
            } catch {
                activity.end()
                throw error
            }
            activity.blockUntilActive(atMost: before)
        }
    }
}
