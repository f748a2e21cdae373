/// The graceful shutdown of a running server, as one ordered sequence.
///
/// Invariant (write it down first, everything below serves it): `MHD_stop_daemon` runs only when
/// no connection is suspended and none can become suspended, because libmicrohttpd aborts the
/// process otherwise. Connections are suspended only by admitted calls (which hold a permit
/// until after their resume) and by open streams (whose reader suspends only while the stream is
/// open); so: close admission, close every stream, end every call, and wait for the
/// `SuspensionLedger` to read 0.
///
/// The steps:
/// 1. Refuse new work: admission drains (new requests on open connections get 503 with
///    `Connection: close`) and the listener stops accepting (new connections are refused).
/// 2. Ask every stream to end: its producer is cancelled but may still write a final frame.
/// 3. Wait up to `shutdownGrace` for streams and calls to end; then close the streams that have
///    not (their buffered bytes are dropped; they end with the terminating chunk).
/// 4. Wait for in-flight handlers until the force point (the deadline less a reserve of a
///    quarter of it, at most 1 s); then cancel the rest and answer them 503.
/// 5. Use the reserve to let those forced answers and stream ends reach their clients: a call
///    or stream counts until its response is written or its connection is gone.
/// 6. Wait for the ledger to read 0 (resumes already under way), then `MHD_stop_daemon` (closes
///    every connection), close the listen sockets, free the callbacks' context.
struct ShutdownSequence {
    let core: ServerCore
    let daemon: Daemon
    let deadline: Duration

    func run() async {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        let forceAt = end.advanced(by: .zero - min(deadline / 4, .seconds(1)))
        let logger = core.configuration.logger

        let (calls, streams) = core.admission.beginDraining()
        daemon.quiesce()
        logger.info("shutdown: draining", metadata: [
            "in_flight": .stringConvertible(calls.count), "streams": .stringConvertible(streams.count),
        ])
        for stream in streams { stream.cancelProducer() }

        let graceEnd = min(clock.now.advanced(by: core.configuration.shutdownGrace), forceAt)
        if await !core.admission.wait(until: .idle, timeout: clock.now.duration(to: graceEnd)) {
            for stream in core.admission.remaining().streams { stream.close() }
        }
        if await !core.admission.wait(until: .noCalls, timeout: clock.now.duration(to: forceAt)) {
            let late = core.admission.remaining().calls
            logger.warning("shutdown: deadline reached, cancelling handlers", metadata: [
                "in_flight": .stringConvertible(late.count),
            ])
            for call in late { call.abortForShutdown() }
        }
        _ = await core.admission.wait(until: .idle, timeout: clock.now.duration(to: end))

        await core.ledger.waitUntilEmpty()
        daemon.stop()
        logger.info("shutdown: stopped")
    }
}
