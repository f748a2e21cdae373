import CMicroHTTPD
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// libmicrohttpd's entry points into Swift. Each C callback is a closure literal that captures
/// nothing (so it converts to a C function pointer) and forwards here; context arrives through
/// `Unmanaged` pointers: the `ServerCore` as the daemon-wide `cls`, the `ConnectionContext` as
/// the socket context and `con_cls`. Defined on a nonisolated type: libmicrohttpd calls from
/// its own threads, which belong to no actor.
enum MHDCallbacks {
    static func core(_ cls: UnsafeMutableRawPointer?) -> ServerCore? {
        cls.map { Unmanaged<ServerCore>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Calls `body` with the core and the connection's context borrowed from their pointers,
    /// without a retain and release of each: both outlive every callback (the server holds the
    /// core until the daemon stopped; the connection holds its context until it is closed),
    /// and these callbacks run several times per request.
    @inline(__always)
    static func withBorrowed<Result>(
        _ cls: UnsafeMutableRawPointer, _ context: UnsafeMutableRawPointer,
        _ body: (ServerCore, ConnectionContext) -> Result
    ) -> Result {
        Unmanaged<ServerCore>.fromOpaque(cls)._withUnsafeGuaranteedRef { core in
            Unmanaged<ConnectionContext>.fromOpaque(context)._withUnsafeGuaranteedRef { context in
                body(core, context)
            }
        }
    }

    static func access(
        _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?, _ method: UnsafePointer<CChar>?,
        _ upload: UnsafePointer<CChar>?, _ uploadSize: UnsafeMutablePointer<Int>?,
        _ requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> MHD_Result {
        guard let cls, let connection, let uploadSize, let pointer = requestContext?.pointee else { return .NO }
        let chunk = UnsafeRawBufferPointer(start: upload, count: upload == nil ? 0 : uploadSize.pointee)
        return withBorrowed(cls, pointer) { core, context in
            core.handle(connection, context, method: method, upload: chunk, uploadSize: uploadSize)
        }
    }

    /// A connection was accepted (`context` points at its socket-context slot) or closed.
    static func connection(
        _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
        _ slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ code: MHD_ConnectionNotificationCode
    ) {
        guard let slot else { return }
        let counters = core(cls)?.counters
        if code == .CONNECTION_NOTIFY_STARTED {
            let peer = connection.flatMap { cmhd_client_address($0) }
            // A worker's wake-up connection is not counted (see `ServerCore.wakeWorkers`).
            let counted = !(peer.map(SocketAddress.isWakeUp) ?? false)
            if counted {
                counters?.pendingConnections.wrappingSubtract(1, ordering: .relaxed)
                counters?.openConnections.wrappingAdd(1, ordering: .relaxed)
            }
            let context = ConnectionContext(remoteAddress: peer.flatMap(SocketAddress.describe), counted: counted)
            slot.pointee = Unmanaged.passRetained(context).toOpaque()
        } else if let pointer = slot.pointee {
            let context = Unmanaged<ConnectionContext>.fromOpaque(pointer)
            if context.takeUnretainedValue().counted { counters?.openConnections.wrappingSubtract(1, ordering: .relaxed) }
            context.release()
            slot.pointee = nil
        }
    }

    /// A request line was read: start the request on its connection's context, which becomes
    /// the request's `con_cls`. Runs before libmicrohttpd splits and unescapes the target.
    static func uriLog(
        _ cls: UnsafeMutableRawPointer?, _ uri: UnsafePointer<CChar>?, _ connection: OpaquePointer?
    ) -> UnsafeMutableRawPointer? {
        guard cls != nil, let connection, let pointer = cmhd_socket_context(connection) else { return nil }
        Unmanaged<ConnectionContext>.fromOpaque(pointer)._withUnsafeGuaranteedRef { context in
            context.beginRequest(target: UnsafeRawBufferPointer(start: uri, count: uri.map { strlen($0) } ?? 0))
        }
        return pointer
    }

    /// The request is over. Called for every request the URI log callback saw.
    static func completed(
        _ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
        _ requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) {
        guard let cls, let connection, let pointer = requestContext?.pointee else { return }
        withBorrowed(cls, pointer) { core, context in core.requestCompleted(connection, context) }
        requestContext?.pointee = nil
    }

    /// One of libmicrohttpd's own error messages.
    static func log(_ cls: UnsafeMutableRawPointer?, _ message: UnsafePointer<CChar>?) {
        guard let core = core(cls), let message else { return }
        var text = String(cString: message)
        while text.last?.isNewline == true { text.removeLast() }
        core.configuration.logger.warning("libmicrohttpd: \(text)")
    }
}

/// Printable socket addresses.
enum SocketAddress {
    /// The address `ServerCore.wakeWorkers` gives its connections: 127.0.0.1 port 0, which no
    /// TCP peer can have.
    static let wakeUp: sockaddr_in = {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        return address
    }()

    static func isWakeUp(_ address: UnsafePointer<sockaddr>) -> Bool {
        guard Int32(address.pointee.sa_family) == AF_INET else { return false }
        return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
            $0.pointee.sin_port == 0 && $0.pointee.sin_addr.s_addr == wakeUp.sin_addr.s_addr
        }
    }

    /// `address:port` for IPv4, `[address]:port` for IPv6, nil for anything else.
    static func describe(_ address: UnsafePointer<sockaddr>) -> String? {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
                var raw = ipv4.pointee.sin_addr
                guard inet_ntop(AF_INET, &raw, &text, socklen_t(text.count)) != nil else { return nil }
                return terminated(text) + ":" + String(UInt16(bigEndian: ipv4.pointee.sin_port))
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { ipv6 in
                var raw = ipv6.pointee.sin6_addr
                guard inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count)) != nil else { return nil }
                return "[" + terminated(text) + "]:" + String(UInt16(bigEndian: ipv6.pointee.sin6_port))
            }
        default:
            return nil
        }
    }

    private static func terminated(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
