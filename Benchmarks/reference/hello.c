/*
 * Plain C reference for MicroHTTP: libmicrohttpd answering GET /healthz with a small JSON
 * body, in the same mode as MicroHTTP (epoll with a thread pool, suspend/resume allowed,
 * inter-thread channel, error log) and the same per-connection memory limit (16 KiB). The
 * benchmark compares the Swift fast path against this, so keep the two configured alike.
 *
 * It is also the 256-clients row's raw peer: any POST is answered 100 ms after its request
 * arrived (the connection suspended, a timer thread resuming it), with nothing else done: what an
 * HTTP server on this machine achieves when all it does for a request is wait 100 ms, against
 * the service's 100 ms runs.
 *
 * usage: hello PORT [THREADS]   (binds 127.0.0.1; THREADS defaults to the online cores)
 *
 * Built with -DEXTERNAL_ACCEPT (.build-bench/hello_ext) it accepts as MicroHTTP does: one
 * thread accepts and hands each connection to libmicrohttpd (MHD_add_connection, no listen
 * socket of its own), which gives it to worker `descriptor % THREADS`. The plain build lets
 * each worker accept from the shared listen socket, so whichever worker is awake takes the
 * connection. Not a goal's peer: it shows what the way connections reach the workers does to
 * throughput and tail latency, apart from what the service does per request.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char HEALTH[] = "{\"status\":\"ok\"}";
static const char NOT_FOUND[] = "{\"title\":\"Not Found\",\"status\":404}";

static int get_marker;  /* con_cls of a GET */
static const char WAITED[] = "{\"status\":\"succeeded\"}";

/* A POST's state (con_cls): 0 reading its body, 1 waiting (suspended), 2 answered. */
struct waiting { int state; struct timespec due; };

/* The waiting connections, in the order they come due (every wait is 100 ms: a FIFO). */
enum { QUEUE = 1 << 16 };
static struct { struct MHD_Connection *connection; struct timespec due; } queue[QUEUE];
static size_t head, tail;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t added = PTHREAD_COND_INITIALIZER;

static void *resumer(void *unused) {
  (void) unused;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (head == tail) pthread_cond_wait(&added, &lock);
    struct timespec due = queue[head % QUEUE].due;
    struct MHD_Connection *connection = queue[head % QUEUE].connection;
    pthread_mutex_unlock(&lock);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR) {}
    MHD_resume_connection(connection);
    pthread_mutex_lock(&lock);
    head++;
  }
  return NULL;
}

static enum MHD_Result
respond(struct MHD_Connection *connection, unsigned int status, const char *body, const char *type)
{
  struct MHD_Response *response =
    MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_PERSISTENT);
  if (NULL == response)
    return MHD_NO;
  MHD_add_response_header(response, "Content-Type", type);
  enum MHD_Result result = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return result;
}

/* GET: first call only marks the request (queueing now would cost keep-alive), the second
 * answers. POST: the body is read, the connection suspended for 100 ms, then answered. */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
  (void) cls; (void) version; (void) upload_data;
  int post = 0 == strcmp(method, "POST");
  if (NULL == *con_cls) {
    *con_cls = post ? calloc(1, sizeof (struct waiting)) : (void *) &get_marker;
    return NULL == *con_cls ? MHD_NO : MHD_YES;
  }
  if (0 != *upload_data_size) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (post) {
    struct waiting *w = *con_cls;
    if (w->state == 1) {
      w->state = 2;
      return respond(connection, 200, WAITED, "application/json");
    }
    w->state = 1;
    MHD_suspend_connection(connection);
    pthread_mutex_lock(&lock);
    /* Under the lock, so that the queue is in the order the connections come due. */
    clock_gettime(CLOCK_MONOTONIC, &w->due);
    w->due.tv_nsec += 100 * 1000000L;
    if (w->due.tv_nsec >= 1000000000L) { w->due.tv_sec++; w->due.tv_nsec -= 1000000000L; }
    queue[tail % QUEUE].connection = connection;
    queue[tail % QUEUE].due = w->due;
    tail++;
    pthread_cond_signal(&added);
    pthread_mutex_unlock(&lock);
    return MHD_YES;
  }
  int found = 0 == strcmp(method, "GET") && 0 == strcmp(url, "/healthz");
  return respond(connection, found ? 200 : 404, found ? HEALTH : NOT_FOUND,
                 found ? "application/json" : "application/problem+json");
}

static void
completed(void *cls, struct MHD_Connection *connection, void **con_cls, enum MHD_RequestTerminationCode code)
{
  (void) cls; (void) connection; (void) code;
  if (NULL != *con_cls && *con_cls != (void *) &get_marker)
    free(*con_cls);
  *con_cls = NULL;
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
  pthread_t thread;
  if (pthread_create(&thread, NULL, resumer, NULL) != 0) {
    fprintf(stderr, "hello: cannot start the resumer thread\n");
    return 1;
  }

  struct MHD_Daemon *daemon = MHD_start_daemon(
    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC
#ifdef EXTERNAL_ACCEPT
      | MHD_USE_NO_LISTEN_SOCKET,
    0, NULL, NULL, &answer, NULL,
#else
    ,
    (uint16_t) port, NULL, NULL, &answer, NULL,
    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
#endif
    /* A pool of 1 is MHD's plain internal thread (it warns about the option): same as ours. */
    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) (threads > 1 ? threads : 0),
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (16 * 1024),
    MHD_OPTION_CONNECTION_LIMIT, 4096u,
    MHD_OPTION_CONNECTION_TIMEOUT, 60u,
    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
    MHD_OPTION_NOTIFY_COMPLETED, &completed, NULL,
    MHD_OPTION_END);
  if (NULL == daemon) {
    fprintf(stderr, "hello: cannot start on 127.0.0.1:%u\n", port);
    return 1;
  }
#ifdef EXTERNAL_ACCEPT
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
      || bind(listener, (struct sockaddr *) &address, sizeof address) != 0 || listen(listener, 1024) != 0) {
    fprintf(stderr, "hello: cannot listen on 127.0.0.1:%u\n", port);
    return 1;
  }
#endif
  printf("hello: listening on 127.0.0.1:%u with %ld threads\n", port, threads);
  fflush(stdout);
#ifdef EXTERNAL_ACCEPT
  for (;;) { /* until a signal ends the process */
    struct sockaddr_in peer;
    socklen_t length = sizeof peer;
    int client = accept4(listener, (struct sockaddr *) &peer, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client >= 0)
      MHD_add_connection(daemon, client, (struct sockaddr *) &peer, length); /* closes it on failure */
    else if (errno != EINTR)
      usleep(1000); /* out of descriptors (or memory): do not spin a core */
  }
#else
  pause(); /* until a signal ends the process */
#endif
  MHD_stop_daemon(daemon);
  return 0;
}
