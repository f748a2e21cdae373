/*
 * The SSE row's raw peer: a hand-written C broadcaster, one epoll thread, one send() per
 * subscriber per tick. It serves the same stream shape as a periodic run at 20 events/s (one
 * `tick` and one `progress` frame per 50 ms, sent in one chunk, the same JSON members), a replay
 * of everything so far to a subscriber that connects late, and `run.finished` at the end, so
 * reference/sse_client.c reads it exactly as it reads the service. It is the floor of what one
 * process pays on this machine to put a frame on 10,000 loopback sockets: no HTTP parsing
 * beyond finding the end of the request head, no routing, no store, no JSON writer.
 *
 * A tick's `t_ms` is its due time (n * 50 ms after the start); the service's is the instant its
 * run ticked, which is due time plus its `drift_ms` (a fraction of a millisecond). So the
 * latency the client measures of the peer includes its timer's wake-up, the service's does not.
 * `drift_ms` is always 0 here, and `run.finished` carries only `t_ms` and `ticks`.
 *
 * usage: sse_server SECONDS [THREADS]
 *   Binds 127.0.0.1 on a free port, prints `PORT STARTED_EPOCH_S` on one line, ticks for
 *   SECONDS, finishes every stream, exits when every subscriber has been written out (or 60 s
 *   after the end). Any path is the stream.
 *   THREADS 2 splits each tick's sends over two threads (descriptors by parity; the second
 *   thread only sends, and leaves a socket that would not take the whole chunk to the first,
 *   which owns all other state): what sending from both cores buys when the client shares
 *   them. Default 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

enum { READING, LIVE, CLOSED };

struct sub {
  int fd, state;
  size_t head_len;           /* request bytes seen (only their end matters) */
  char tail[4];              /* the last four bytes read, to find "\r\n\r\n" across reads */
  char *pending;             /* bytes the socket would not take yet */
  size_t pending_len, pending_cap, pending_off;
};

static struct sub **subs;   /* by descriptor */
static int subs_cap, live_count, open_count;
static char *history; static size_t history_len, history_cap;  /* every chunk so far */
static int ep, finished;

static double seconds_of(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

/* The schedule runs on the monotonic clock; only the printed start is wall-clock time. */
static double now_s(void) { return seconds_of(CLOCK_MONOTONIC); }

static void grow(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n > *cap) {
    *cap = (*len + n) * 2;
    *buf = realloc(*buf, *cap);
    if (!*buf) { perror("realloc"); exit(1); }
  }
  memcpy(*buf + *len, data, n);
  *len += n;
}

static void drop(struct sub *s) {
  if (s->state == LIVE) live_count--;
  s->state = CLOSED;
  epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  open_count--;
  free(s->pending);
  subs[s->fd] = NULL;
  free(s);
}

static void want_out(struct sub *s, int on) {
  struct epoll_event e = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = s->fd };
  epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e);
}

/* Sends what is pending, then `data`; keeps what the socket will not take. Returns 0 if the
 * subscriber was dropped. */
static int deliver(struct sub *s, const char *data, size_t n) {
  if (s->pending_len > s->pending_off) {
    grow(&s->pending, &s->pending_len, &s->pending_cap, data, n);
    return 1;
  }
  ssize_t sent = send(s->fd, data, n, MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) { drop(s); return 0; }
    sent = 0;
  }
  if ((size_t) sent < n) {
    s->pending_len = s->pending_off = 0;
    grow(&s->pending, &s->pending_len, &s->pending_cap, data + sent, n - (size_t) sent);
    want_out(s, 1);
  }
  return 1;
}

static void flush(struct sub *s) {
  while (s->pending_off < s->pending_len) {
    ssize_t sent = send(s->fd, s->pending + s->pending_off, s->pending_len - s->pending_off, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      drop(s);
      return;
    }
    s->pending_off += (size_t) sent;
  }
  s->pending_len = s->pending_off = 0;
  want_out(s, 0);
  if (finished) drop(s);
}

static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                           "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";

static void became_live(struct sub *s) {
  s->state = LIVE;
  live_count++;
  if (!deliver(s, head, sizeof head - 1)) return;
  if (history_len && !deliver(s, history, history_len)) return;
  if (finished && s->pending_off == s->pending_len) drop(s);
}

static void readable(struct sub *s) {
  char buffer[4096];
  for (;;) {
    ssize_t got = read(s->fd, buffer, sizeof buffer);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) { drop(s); return; }
    if (got < 0) return;
    if (s->state != READING) continue;  /* a subscriber sends nothing after its request */
    for (ssize_t i = 0; i < got; i++) {
      memmove(s->tail, s->tail + 1, 3);
      s->tail[3] = buffer[i];
      if (++s->head_len >= 4 && memcmp(s->tail, "\r\n\r\n", 4) == 0) {
        became_live(s);
        return;
      }
    }
  }
}

/* THREADS 2: each tick's chunk is sent by two threads, `send_share` each, over the descriptors
 * of their parity. A share only sends to a live subscriber with nothing pending and the whole
 * chunk taken; every other case (something pending, a partial send, EAGAIN, an error) it notes
 * with what was sent, for the main thread to settle once both shares are done. While the second
 * thread sends, the main thread only sends too: no subscriber's state changes under it. */
struct unsettled { int fd; ssize_t sent; int error; };
static int threads = 1;
static const char *share_chunk; static size_t share_len;
static struct unsettled *unsettled[2]; static int unsettled_count[2];
static pthread_mutex_t share_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t share_cond = PTHREAD_COND_INITIALIZER;
static long share_started, share_done;

static void send_share(int parity) {
  int n = 0;
  for (int fd = parity; fd < subs_cap; fd += 2) {
    struct sub *s = subs[fd];
    if (!s || s->state != LIVE) continue;
    if (s->pending_len > s->pending_off) { unsettled[parity][n++] = (struct unsettled) { fd, -1, 0 }; continue; }
    ssize_t sent = send(fd, share_chunk, share_len, MSG_NOSIGNAL);
    if (sent == (ssize_t) share_len) continue;
    int error = sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK;
    unsettled[parity][n++] = (struct unsettled) { fd, sent < 0 ? 0 : sent, error };
  }
  unsettled_count[parity] = n;
}

static void *second_sender(void *unused) {
  (void) unused;
  for (long seen = 0;;) {
    pthread_mutex_lock(&share_lock);
    while (share_started == seen) pthread_cond_wait(&share_cond, &share_lock);
    seen = share_started;
    pthread_mutex_unlock(&share_lock);
    send_share(1);
    pthread_mutex_lock(&share_lock);
    share_done = seen;
    pthread_cond_broadcast(&share_cond);
    pthread_mutex_unlock(&share_lock);
  }
  return NULL;
}

/* Sends `chunk` from both threads, then settles what the shares left (see above). */
static void send_from_both(const char *chunk, size_t n) {
  share_chunk = chunk; share_len = n;
  pthread_mutex_lock(&share_lock);
  long round = ++share_started;
  pthread_cond_broadcast(&share_cond);
  pthread_mutex_unlock(&share_lock);
  send_share(0);
  pthread_mutex_lock(&share_lock);
  while (share_done != round) pthread_cond_wait(&share_cond, &share_lock);
  pthread_mutex_unlock(&share_lock);
  for (int parity = 0; parity < 2; parity++) {
    for (int i = 0; i < unsettled_count[parity]; i++) {
      struct unsettled u = unsettled[parity][i];
      struct sub *s = subs[u.fd];
      if (!s) continue;
      if (u.sent < 0) { deliver(s, chunk, n); continue; }  /* behind: onto what it has pending */
      if (u.error) { drop(s); continue; }
      s->pending_len = s->pending_off = 0;
      grow(&s->pending, &s->pending_len, &s->pending_cap, chunk + u.sent, n - (size_t) u.sent);
      want_out(s, 1);
    }
  }
}

/* Appends one chunk (its frames) to the history and sends it to every live subscriber: one
 * send() each, or onto what it has pending when its socket is full. */
static void broadcast(const char *frames, size_t n, int last) {
  static char *chunk; static size_t chunk_len, chunk_cap;
  char size[32];
  int size_len = snprintf(size, sizeof size, "%zx\r\n", n);
  chunk_len = 0;
  grow(&chunk, &chunk_len, &chunk_cap, size, (size_t) size_len);
  grow(&chunk, &chunk_len, &chunk_cap, frames, n);
  grow(&chunk, &chunk_len, &chunk_cap, last ? "\r\n0\r\n\r\n" : "\r\n", last ? 7 : 2);
  grow(&history, &history_len, &history_cap, chunk, chunk_len);
  if (threads == 2 && !last) {
    send_from_both(chunk, chunk_len);
    return;
  }
  for (int fd = 0; fd < subs_cap; fd++) {
    struct sub *s = subs[fd];
    if (!s || s->state != LIVE) continue;
    if (!deliver(s, chunk, chunk_len)) continue;
    if (last && s->pending_off == s->pending_len) drop(s);
  }
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "1") != 0 && strcmp(argv[2], "2") != 0)) {
    fprintf(stderr, "usage: %s SECONDS [THREADS: 1 or 2]\n", argv[0]);
    return 2;
  }
  int seconds = atoi(argv[1]), ticks = seconds * 20;
  threads = argc == 3 ? atoi(argv[2]) : 1;
  struct rlimit limit;
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  subs_cap = (int) (limit.rlim_cur < 1 << 20 ? limit.rlim_cur : 1 << 20);
  subs = calloc((size_t) subs_cap, sizeof *subs);
  if (threads == 2) {
    pthread_t second;
    for (int parity = 0; parity < 2; parity++) unsettled[parity] = calloc((size_t) subs_cap / 2 + 1, sizeof (struct unsettled));
    if (pthread_create(&second, NULL, second_sender, NULL) != 0) { perror("pthread_create"); return 1; }
  }

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = { .sin_family = AF_INET };
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t address_len = sizeof address;
  if (bind(listener, (struct sockaddr *) &address, sizeof address) != 0 || listen(listener, 4096) != 0) {
    perror("listen"); return 1;
  }
  getsockname(listener, (struct sockaddr *) &address, &address_len);
  ep = epoll_create1(0);
  struct epoll_event e = { .events = EPOLLIN, .data.fd = listener };
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &e);
  /* Tick n is due at started + n * 50 ms; the timer fires at exactly those instants. */
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  double started = (double) start.tv_sec + (double) start.tv_nsec / 1e9, give_up = started + seconds + 60;
  double started_wall = seconds_of(CLOCK_REALTIME);
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct itimerspec every = { .it_interval = { 0, 50 * 1000000 }, .it_value = start };
  timerfd_settime(timer, TFD_TIMER_ABSTIME, &every, NULL);
  e.data.fd = timer;
  epoll_ctl(ep, EPOLL_CTL_ADD, timer, &e);
  printf("%u %.6f\n", ntohs(address.sin_port), started_wall);
  fflush(stdout);

  int tick = 0;
  long id = 0;
  struct epoll_event ready[256];
  while (now_s() < give_up && !(finished && open_count == 0)) {
    int k = epoll_wait(ep, ready, 256, 100), accepting = 0;
    for (int i = 0; i < k; i++) {
      int fd = ready[i].data.fd;
      if (fd == listener) {
        accepting = 1;  /* after this batch: a descriptor closed in it must not be reused in it */
      } else if (fd == timer) {
        unsigned long long expirations;
        if (read(timer, &expirations, sizeof expirations) < 0 || finished) continue;
        /* Every tick that is due, on its schedule (t_ms = when it was due), in one chunk:
         * a broadcast that overran the interval does not push the schedule back, it sends
         * the ticks it missed together, as the service's fan-out does for a subscriber
         * behind. */
        static char *frames; static size_t frames_len, frames_cap;
        char frame[512];
        int due = (int) ((now_s() - started) * 1000 / 50) + 1;
        frames_len = 0;
        for (; tick < ticks && tick < due; tick++) {
          double ideal = tick * 50.0;
          int n = snprintf(frame, sizeof frame,
            "id: %ld\nevent: tick\ndata: {\"drift_ms\":0,\"ideal_ms\":%.1f,\"t_ms\":%.1f,\"tick\":%d,\"ticks\":%d}\n\n"
            "id: %ld\nevent: progress\ndata: {\"completed\":%d,\"t_ms\":%.1f,\"total\":%d}\n\n",
            id + 1, ideal, ideal, tick, tick + 1, id + 2, tick + 1, ideal, ticks);
          grow(&frames, &frames_len, &frames_cap, frame, (size_t) n);
          id += 2;
        }
        if (frames_len) broadcast(frames, frames_len, 0);
        if (tick == ticks && due > ticks) {
          int n = snprintf(frame, sizeof frame, "id: %ld\nevent: run.finished\ndata: {\"t_ms\":%.1f,\"ticks\":%d}\n\n",
                           ++id, ticks * 50.0, ticks);
          finished = 1;
          broadcast(frame, (size_t) n, 1);
        }
      } else if (subs[fd]) {
        struct sub *s = subs[fd];
        if (ready[i].events & (EPOLLERR | EPOLLHUP)) { drop(s); continue; }
        if (ready[i].events & EPOLLIN) readable(s);
        if (subs[fd] && (ready[i].events & EPOLLOUT)) flush(s);
      }
    }
    for (int client; accepting && (client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
      if (client >= subs_cap) { close(client); continue; }
      struct sub *s = calloc(1, sizeof *s);
      s->fd = client;
      subs[client] = s;
      open_count++;
      struct epoll_event ce = { .events = EPOLLIN, .data.fd = client };
      epoll_ctl(ep, EPOLL_CTL_ADD, client, &ce);
    }
  }
  return 0;
}
