/*
 * N server-sent-event subscribers on one run, in one epoll loop: the SSE row's client.
 * A Python client spent more time reading 1,000 sockets than the server spent writing them
 * (its own backlog was most of the latency it measured); this one costs microseconds per
 * frame, so the latency it reports is the server's.
 *
 * usage: sse_client PORT PATH SUBSCRIBERS STARTED_EPOCH_S TIMEOUT_S
 *   Latency of an event = arrival - (STARTED_EPOCH_S + its data's t_ms / 1000), counted for
 *   events emitted after the subscriber connected (live events, not a replay). A subscriber
 *   ends at `event: run.finished`. Prints one JSON object with the counts and percentiles.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { HEAD, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, DONE };

struct sub {
  int fd, state, chunked, finished, refused, events, max_id;
  long chunk_left;
  double connected_at;
  char *raw; size_t raw_len, raw_cap;     /* bytes not yet decoded (headers, chunk lines) */
  char *body; size_t body_len, body_cap;  /* decoded SSE text not yet split into frames */
};

static double *lat; static size_t lat_len, lat_cap;
static double first_lat[1 << 20];
static int max_event_id;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    *cap = (*len + n + 1) * 2;
    *buf = realloc(*buf, *cap);
    if (!*buf) { perror("realloc"); exit(1); }
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = 0;
}

static void consume(char **buf, size_t *len, size_t n) {
  memmove(*buf, *buf + n, *len - n);
  *len -= n;
  (*buf)[*len] = 0;
}

/* One complete frame (text up to the blank line). */
static void frame(struct sub *s, char *text, double started, double arrived) {
  long id = -1;
  int finished = 0;
  double t_ms = -1;
  for (char *line = text; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (strncmp(line, "id: ", 4) == 0) id = atol(line + 4);
    else if (strncmp(line, "event: run.finished", 19) == 0) finished = 1;
    else if (strncmp(line, "data: ", 6) == 0 && !finished) {
      char *t = strstr(line, "\"t_ms\":");
      if (t) t_ms = atof(t + 7);
    }
    line = next;
  }
  if (id < 0) return;
  s->events++;
  if (id > s->max_id) s->max_id = (int) id;
  if (id > max_event_id) max_event_id = (int) id;
  if (finished) { s->finished = 1; s->state = DONE; return; }
  if (t_ms < 0) return;
  double emitted = started + t_ms / 1000;
  if (emitted < s->connected_at) return;
  double ms = (arrived - emitted) * 1000;
  if (lat_len == lat_cap) {
    lat_cap = lat_cap ? lat_cap * 2 : 1 << 16;
    lat = realloc(lat, lat_cap * sizeof *lat);
    if (!lat) { perror("realloc"); exit(1); }
  }
  lat[lat_len++] = ms;
  if (id < (long) (sizeof first_lat / sizeof *first_lat) && (first_lat[id] == 0 || ms < first_lat[id])) first_lat[id] = ms;
}

static void frames(struct sub *s, double started, double arrived) {
  char *end;
  while (s->state != DONE && (end = strstr(s->body, "\n\n"))) {
    size_t n = (size_t) (end - s->body) + 2;
    end[1] = 0;
    frame(s, s->body, started, arrived);
    consume(&s->body, &s->body_len, n);
  }
}

/* Decodes what arrived: headers, then the body (chunked or not). */
static void decode(struct sub *s, double started, double arrived) {
  for (;;) {
    if (s->state == HEAD) {
      char *end = strstr(s->raw, "\r\n\r\n");
      if (!end) return;
      if (!strstr(s->raw, " 200 ") || strstr(s->raw, " 200 ") > strstr(s->raw, "\r\n")) {
        s->refused = 1; s->state = DONE; return;
      }
      s->chunked = strcasestr(s->raw, "transfer-encoding: chunked") != NULL;
      s->connected_at = arrived;
      consume(&s->raw, &s->raw_len, (size_t) (end - s->raw) + 4);
      s->state = s->chunked ? CHUNK_SIZE : CHUNK_DATA;
      s->chunk_left = s->chunked ? 0 : -1;
    } else if (s->state == CHUNK_SIZE) {
      char *end = strstr(s->raw, "\r\n");
      if (!end) return;
      s->chunk_left = strtol(s->raw, NULL, 16);
      consume(&s->raw, &s->raw_len, (size_t) (end - s->raw) + 2);
      s->state = s->chunk_left == 0 ? DONE : CHUNK_DATA;
    } else if (s->state == CHUNK_DATA) {
      if (s->raw_len == 0) return;
      size_t n = s->chunk_left < 0 || (size_t) s->chunk_left > s->raw_len ? s->raw_len : (size_t) s->chunk_left;
      append(&s->body, &s->body_len, &s->body_cap, s->raw, n);
      consume(&s->raw, &s->raw_len, n);
      if (s->chunk_left >= 0) {
        s->chunk_left -= (long) n;
        if (s->chunk_left == 0) s->state = CHUNK_END;
      }
      frames(s, started, arrived);
    } else if (s->state == CHUNK_END) {
      if (s->raw_len < 2) return;
      consume(&s->raw, &s->raw_len, 2);
      s->state = CHUNK_SIZE;
    } else {
      return;
    }
  }
}

static int compare(const void *a, const void *b) {
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double percentile(double *values, size_t n, double p) {
  if (n == 0) return -1;
  size_t i = (size_t) ((double) n * p);
  return values[i < n ? i : n - 1];
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s PORT PATH SUBSCRIBERS STARTED_EPOCH_S TIMEOUT_S\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]), n = atoi(argv[3]);
  const char *path = argv[2];
  double started = atof(argv[4]), deadline = now_s() + atof(argv[5]), t0 = now_s(), all_connected = 0;
  struct sub *subs = calloc((size_t) n, sizeof *subs);
  int ep = epoll_create1(0), open_count = n, errors = 0;
  char request[512];
  int request_len = snprintf(request, sizeof request,
    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n", path);
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; i++) {
    struct sub *s = &subs[i];
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0 || connect(s->fd, (struct sockaddr *) &address, sizeof address) != 0
        || write(s->fd, request, (size_t) request_len) != request_len) {
      errors++; s->state = DONE; open_count--; continue;
    }
    append(&s->raw, &s->raw_len, &s->raw_cap, "", 0);
    append(&s->body, &s->body_len, &s->body_cap, "", 0);
    struct epoll_event event = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &event);
  }
  static char buffer[1 << 16];
  struct epoll_event ready[256];
  int connected = 0;
  while (open_count > 0 && now_s() < deadline) {
    int k = epoll_wait(ep, ready, 256, 200);
    double arrived = now_s();
    for (int e = 0; e < k; e++) {
      struct sub *s = &subs[ready[e].data.u32];
      ssize_t got = read(s->fd, buffer, sizeof buffer);
      int was_head = s->state == HEAD;
      if (got > 0) {
        append(&s->raw, &s->raw_len, &s->raw_cap, buffer, (size_t) got);
        decode(s, started, arrived);
      }
      if (was_head && s->state != HEAD && !s->refused && ++connected == n) all_connected = arrived - t0;
      if (got <= 0 || s->state == DONE) {
        if (got < 0 && errno != EINTR) errors++;
        if (s->state != DONE) s->state = DONE;
        epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
        s->fd = -1;
        open_count--;
      }
    }
  }
  int finished = 0, refused = 0, complete = 0;
  long delivered = 0;
  for (int i = 0; i < n; i++) {
    finished += subs[i].finished;
    refused += subs[i].refused;
    delivered += subs[i].events;
  }
  for (int i = 0; i < n; i++) complete += subs[i].events == max_event_id && subs[i].max_id == max_event_id;
  qsort(lat, lat_len, sizeof *lat, compare);
  double *firsts = calloc(sizeof first_lat / sizeof *first_lat, sizeof *firsts);
  size_t first_count = 0;
  for (int id = 0; id <= max_event_id && id < (int) (sizeof first_lat / sizeof *first_lat); id++)
    if (first_lat[id] != 0) firsts[first_count++] = first_lat[id];
  qsort(firsts, first_count, sizeof *firsts, compare);
  printf("{\"subscribers\":%d,\"complete\":%d,\"finished\":%d,\"refused\":%d,\"errors\":%d,"
         "\"max_id\":%d,\"delivered\":%ld,\"samples\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
         "\"first_p99_ms\":%.3f,\"connect_s\":%.3f}\n",
         n, complete, finished, refused, errors, max_event_id, delivered, lat_len,
         percentile(lat, lat_len, 0.5), percentile(lat, lat_len, 0.99), lat_len ? lat[lat_len - 1] : -1,
         percentile(firsts, first_count, 0.99), all_connected);
  return 0;
}
