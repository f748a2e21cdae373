#ifndef CMICROHTTPD_SHIM_H
#define CMICROHTTPD_SHIM_H

/*
 * What Swift cannot reach in <microhttpd.h> on its own: the variadic
 * MHD_start_daemon, macros with casts, option items whose first member is a
 * function pointer cast to intptr_t, and the union returned by the info calls.
 * Everything here is a thin static inline: no state, no policy.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <microhttpd.h>

/* Macros with casts are not imported by Swift: re-export them as constants. */
static const uint64_t CMHD_SIZE_UNKNOWN = MHD_SIZE_UNKNOWN;
static const ssize_t CMHD_CONTENT_READER_END_OF_STREAM = MHD_CONTENT_READER_END_OF_STREAM;
static const ssize_t CMHD_CONTENT_READER_END_WITH_ERROR = MHD_CONTENT_READER_END_WITH_ERROR;

/* accept4 is a GNU extension, declared by <sys/socket.h> only under _GNU_SOURCE. */
#ifndef __USE_GNU
extern int accept4 (int fd, struct sockaddr *addr, socklen_t *addr_len, int flags);
#endif

/* Accepts a connection as non-blocking and close-on-exec in one call (MicroHTTP's listener). */
static inline int
cmhd_accept (int listen_socket, struct sockaddr *address, socklen_t *length)
{
  return accept4 (listen_socket, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* Names the calling thread (the kernel keeps 15 bytes): prctl is variadic. */
static inline void
cmhd_set_current_thread_name (const char *name)
{
#ifdef __linux__
  (void) prctl (PR_SET_NAME, (unsigned long) name, 0UL, 0UL, 0UL);
#else
  (void) name;
#endif
}

/* Starts a daemon with its options in an MHD_OPTION_END-terminated array. */
static inline struct MHD_Daemon *
cmhd_start_daemon(unsigned int flags, uint16_t port,
                  MHD_AccessHandlerCallback handler, void *handler_cls,
                  const struct MHD_OptionItem *options)
{
  return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                          MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/* An option taking an integer (limits, sizes, timeouts). */
static inline struct MHD_OptionItem
cmhd_option_int(enum MHD_OPTION option, intptr_t value)
{
  struct MHD_OptionItem item = { option, value, NULL };
  return item;
}

/* An option taking one pointer (MHD_OPTION_SOCK_ADDR). */
static inline struct MHD_OptionItem
cmhd_option_pointer(enum MHD_OPTION option, void *pointer)
{
  struct MHD_OptionItem item = { option, 0, pointer };
  return item;
}

static inline struct MHD_OptionItem
cmhd_option_end(void)
{
  struct MHD_OptionItem item = { MHD_OPTION_END, 0, NULL };
  return item;
}

static inline struct MHD_OptionItem
cmhd_option_notify_completed(MHD_RequestCompletedCallback callback, void *cls)
{
  struct MHD_OptionItem item = { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) callback, cls };
  return item;
}

static inline struct MHD_OptionItem
cmhd_option_notify_connection(MHD_NotifyConnectionCallback callback, void *cls)
{
  struct MHD_OptionItem item = { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t) callback, cls };
  return item;
}

/* Called with the raw request target (path and query, undecoded), before MHD
 * splits and unescapes it in place; its result becomes the request's con_cls. */
typedef void *(*cmhd_uri_log_callback)(void *cls, const char *uri,
                                       struct MHD_Connection *connection);

static inline struct MHD_OptionItem
cmhd_option_uri_log(cmhd_uri_log_callback callback, void *cls)
{
  struct MHD_OptionItem item = { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t) callback, cls };
  return item;
}

/* MHD's logger takes a va_list, which Swift cannot format: format it here and
 * hand Swift a finished line. The sink lives as long as the daemon. */
struct cmhd_log_sink {
  void (*emit)(void *context, const char *message);
  void *context;
};

static inline void
cmhd_log_adapter(void *cls, const char *format, va_list arguments)
{
  const struct cmhd_log_sink *sink = (const struct cmhd_log_sink *) cls;
  char line[512];
  vsnprintf(line, sizeof line, format, arguments);
  sink->emit(sink->context, line);
}

static inline struct MHD_OptionItem
cmhd_option_logger(struct cmhd_log_sink *sink)
{
  struct MHD_OptionItem item = {
    MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) &cmhd_log_adapter, sink
  };
  return item;
}

/* The port actually bound (the one the kernel picked when port 0 was asked). */
static inline uint16_t
cmhd_bound_port(struct MHD_Daemon *daemon)
{
  const union MHD_DaemonInfo *info =
    MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  return (NULL == info) ? 0 : info->port;
}

static inline const struct sockaddr *
cmhd_client_address(struct MHD_Connection *connection)
{
  const union MHD_ConnectionInfo *info =
    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  return (NULL == info) ? NULL : info->client_addr;
}

/* The per-connection pointer set in the MHD_OPTION_NOTIFY_CONNECTION callback. */
static inline void *
cmhd_socket_context(struct MHD_Connection *connection)
{
  const union MHD_ConnectionInfo *info =
    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return (NULL == info) ? NULL : info->socket_context;
}

/* The status queued on the connection, 0 when none was (yet). */
static inline unsigned int
cmhd_http_status(struct MHD_Connection *connection)
{
  const union MHD_ConnectionInfo *info =
    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_HTTP_STATUS);
  return (NULL == info) ? 0 : info->http_status;
}

#endif
