/*
 * Plain C reference for MicroHTTP: libmicrohttpd answering GET /healthz with a small JSON
 * body, in the same mode as MicroHTTP (epoll with a thread pool, suspend/resume allowed,
 * inter-thread channel, error log) and the same per-connection memory limit (16 KiB). The
 * benchmark compares the Swift fast path against this, so keep the two configured alike.
 *
 * usage: hello PORT [THREADS]   (binds 127.0.0.1; THREADS defaults to the online cores)
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char HEALTH[] = "{\"status\":\"ok\"}";
static const char NOT_FOUND[] = "{\"title\":\"Not Found\",\"status\":404}";

/* First call: only mark the request (queueing now would cost keep-alive). Second: answer. */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
  static int marker;
  (void) cls; (void) version; (void) upload_data;
  if (NULL == *con_cls) {
    *con_cls = &marker;
    return MHD_YES;
  }
  if (0 != *upload_data_size) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  int found = 0 == strcmp(method, "GET") && 0 == strcmp(url, "/healthz");
  const char *body = found ? HEALTH : NOT_FOUND;
  struct MHD_Response *response =
    MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_PERSISTENT);
  if (NULL == response)
    return MHD_NO;
  MHD_add_response_header(response, "Content-Type", found ? "application/json" : "application/problem+json");
  enum MHD_Result result = MHD_queue_response(connection, found ? 200 : 404, response);
  MHD_destroy_response(response);
  return result;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
    return 2;
  }
  unsigned int port = (unsigned int) atoi(argv[1]);
  long threads = argc > 2 ? atol(argv[2]) : sysconf(_SC_NPROCESSORS_ONLN);
  struct sockaddr_in address;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t) port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  signal(SIGPIPE, SIG_IGN);

  struct MHD_Daemon *daemon = MHD_start_daemon(
    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC,
    (uint16_t) port, NULL, NULL, &answer, NULL,
    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
    /* A pool of 1 is MHD's plain internal thread (it warns about the option): same as ours. */
    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) (threads > 1 ? threads : 0),
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (16 * 1024),
    MHD_OPTION_CONNECTION_LIMIT, 4096u,
    MHD_OPTION_CONNECTION_TIMEOUT, 60u,
    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
    MHD_OPTION_END);
  if (NULL == daemon) {
    fprintf(stderr, "hello: cannot start on 127.0.0.1:%u\n", port);
    return 1;
  }
  printf("hello: listening on 127.0.0.1:%u with %ld threads\n", port, threads);
  fflush(stdout);
  pause(); /* until a signal ends the process */
  MHD_stop_daemon(daemon);
  return 0;
}
